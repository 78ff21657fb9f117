/**
 * Every error this library throws on bad input is one of the classes below, so callers
 * (the builder, the API) can tell user mistakes from bugs with a single `instanceof DockerfileError`.
 */
export abstract class DockerfileError extends Error {
  /** The message without the `Dockerfile:<line>:` prefix. */
  readonly detail: string;

  protected constructor(message: string, detail: string) {
    super(message);
    this.name = new.target.name;
    this.detail = detail;
  }
}

/** The text is not a well-formed Dockerfile: unknown instruction, bad flag, missing arguments... */
export class DockerfileSyntaxError extends DockerfileError {
  readonly line: number;
  readonly column: number;

  constructor(detail: string, line: number, column = 1, fileName = 'Dockerfile') {
    super(`${fileName}:${line}:${column}: ${detail}`, detail);
    this.line = line;
    this.column = column;
  }
}

/** The Dockerfile parses but cannot be built as written: unknown stage, cycle, blank base name... */
export class DockerfileSemanticError extends DockerfileError {
  /** 1-based line of the offending instruction; undefined when the problem is not tied to a line (e.g. --target). */
  readonly line: number | undefined;

  constructor(detail: string, line?: number, fileName = 'Dockerfile') {
    super(line === undefined ? `${fileName}: ${detail}` : `${fileName}:${line}: ${detail}`, detail);
    this.line = line;
  }
}

/** Variable substitution failed: `${v:?message}`, unterminated quote, bad modifier... */
export class ExpansionError extends DockerfileError {
  /** The word whose expansion failed. */
  readonly word: string;
  readonly line: number | undefined;

  constructor(detail: string, word: string, line?: number) {
    const where = line === undefined ? '' : `Dockerfile:${line}: `;
    super(`${where}failed to process "${word}": ${detail}`, detail);
    this.word = word;
    this.line = line;
  }

  /** The same error, located at the instruction that triggered it. */
  atLine(line: number): ExpansionError {
    return this.line === undefined ? new ExpansionError(this.detail, this.word, line) : this;
  }
}

/** A `.dockerignore` line is not a valid pattern (`!` alone, unterminated `[`...). */
export class DockerignoreError extends DockerfileError {
  readonly line: number;
  readonly pattern: string;

  constructor(detail: string, pattern: string, line: number) {
    super(`.dockerignore:${line}: ${detail}: ${JSON.stringify(pattern)}`, detail);
    this.line = line;
    this.pattern = pattern;
  }
}
