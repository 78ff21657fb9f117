import { CommandResult, inTerminal, repoRoot, runCommand } from '@muelle/testing';
import { join } from 'node:path';

export type CliResult = CommandResult;

export const muelleBin = join(repoRoot, 'tools/bin/muelle.js');

/** Runs `npx muelle …` the way a user would (the workspace bin), with its own HOME for the config file. */
export function muelle(args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return runCommand(process.execPath, [muelleBin, ...args], { env, cwd: repoRoot, input: options.input, timeoutMs: options.timeoutMs ?? 60_000 });
}

/**
 * Runs the CLI in a real pseudo-terminal: what `exec -it` needs. Acts like a person at a
 * terminal: answers the shell's cursor-position query (ESC[6n) as a terminal emulator would, and
 * types each line of `input` only once a prompt (`# `) shows.
 */
export function muelleInTerminal(args: string[], env: Record<string, string>, input: string, timeoutMs = 30_000): Promise<CliResult> {
  const [file, argv] = inTerminal([process.execPath, muelleBin, ...args]);
  return runCommand(file, argv, {
    env,
    cwd: repoRoot,
    timeoutMs,
    feed(child, stdout) {
      const lines = input.split(/(?<=\n)/);
      let queriesAnswered = 0;
      let promptSeenAt = 0;
      child.stdout.on('data', () => {
        const seen = stdout();
        for (let at = seen.indexOf('\x1b[6n', queriesAnswered); at >= 0; at = seen.indexOf('\x1b[6n', queriesAnswered)) {
          child.stdin.write('\x1b[24;1R');
          queriesAnswered = at + 4;
        }
        if (/# $/.test(seen.slice(promptSeenAt).replace(/\x1b\[6n/g, ''))) {
          promptSeenAt = seen.length;
          const next = lines.shift();
          if (next !== undefined) child.stdin.write(next);
        }
      });
    },
  });
}
