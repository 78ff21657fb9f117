/** A failure the CLI reports as `Error: …` and exits with `exitCode` (docker's 125 for CLI/daemon errors). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 125,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
