import { Option } from 'commander';
import { createInterface, Interface } from 'node:readline';
import { Writable } from 'node:stream';
import { ApiClient } from '../client';
import type { Io } from '../commands';
import { loadConfig } from '../config';
import { CliError } from '../errors';

/** Helpers the account, token and team command groups share. */
export const formatOption = () => new Option('--format <format>', 'output format: table or json').choices(['table', 'json']).default('table');
export const apiClient = () => new ApiClient(loadConfig());
export const printJson = (io: Io, value: unknown): void => void io.out.write(JSON.stringify(value, null, 2) + '\n');

/** `90s`, `15m`, `12h`, `30d` or plain seconds → seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'] : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new CliError(`invalid duration "${text}": use e.g. 3600, 90s, 15m, 12h or 30d`);
  return seconds;
}

/**
 * Asks for secrets one line each: on a terminal without echo, else from piped stdin (one line per
 * question, so scripts can answer `muelle user passwd`).
 */
export class SecretPrompt {
  private lines?: AsyncIterator<string>;
  private readline?: Interface;

  constructor(private readonly io: Io) {}

  async ask(question: string): Promise<string> {
    if (process.stdin.isTTY) return this.askTerminal(question);
    this.readline ??= createInterface({ input: process.stdin, terminal: false });
    this.lines ??= this.readline[Symbol.asyncIterator]();
    const next = await this.lines.next();
    if (next.done) throw new CliError(`${question.replace(/:\s*$/, '')}: no input`);
    return next.value;
  }

  close(): void {
    this.readline?.close();
  }

  private askTerminal(question: string): Promise<string> {
    // Typed characters are not echoed: the readline writes to a sink, and it puts the terminal in
    // raw mode before the question shows, so a fast typist's characters are not echoed by the tty.
    const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
    const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
    this.io.err.write(question);
    return new Promise((resolve) =>
      rl.question('', (answer) => {
        rl.close();
        this.io.err.write('\n');
        resolve(answer);
      }),
    );
  }
}

/** A password from `-p`, else a prompt (twice on a terminal, to catch typos; one line of piped stdin otherwise). */
export async function newPassword(prompt: SecretPrompt, options: { password?: string }, question = 'New password: '): Promise<string> {
  if (options.password) return options.password;
  const first = await prompt.ask(question);
  if (process.stdin.isTTY && (await prompt.ask('Repeat it: ')) !== first) throw new CliError('the passwords do not match');
  if (!first) throw new CliError('an empty password is not a password');
  return first;
}

/** Prints a container's log lines, each on the stream it was written to; `follow` waits for more. */
export async function followLogs(api: ApiClient, io: Io, container: string, options: { follow: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string }) {
  const response = await api.send('GET', `/v1/containers/${encodeURIComponent(container)}/logs`, { query: options });
  for await (const line of api.lines(response)) {
    if (line.error) throw new CliError(line.error.message, 125, line.error.code);
    const out = line.stream === 'stderr' ? io.err : io.out;
    // A slow pipe makes us stop reading the response, and the platform's credit then stops the agent.
    if (!out.write(line.data)) await new Promise((resolve) => out.once('drain', resolve));
  }
}
