import { repoRoot } from '@muelle/testing';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BIN = join(repoRoot, 'tools/bin/muelle.js');

/** Runs `npx muelle …` the way a user would (the workspace bin), with its own HOME for the config file. */
export function muelle(args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return run(process.execPath, [BIN, ...args], env, options);
}

/**
 * Runs the CLI under `script`, which gives it a real pseudo-terminal: what `exec -it` needs.
 * Acts like a person at a terminal: answers the shell's cursor-position query (ESC[6n) as a
 * terminal emulator would, and types each line of `input` only once a prompt (`# `) shows.
 */
export function muelleInTerminal(args: string[], env: Record<string, string>, input: string, timeoutMs = 30_000): Promise<CliResult> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('script', ['-qefc', command, '/dev/null'], env, { input, timeoutMs, interactive: true });
}

function run(file: string, args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number; interactive?: boolean }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: repoRoot, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`muelle ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined && options.interactive) {
      const lines = options.input.split(/(?<=\n)/);
      let queriesAnswered = 0;
      let promptSeenAt = 0;
      child.stdout.on('data', () => {
        for (let at = stdout.indexOf('\x1b[6n', queriesAnswered); at >= 0; at = stdout.indexOf('\x1b[6n', queriesAnswered)) {
          child.stdin.write('\x1b[24;1R');
          queriesAnswered = at + 4;
        }
        if (/# $/.test(stdout.slice(promptSeenAt).replace(/\x1b\[6n/g, ''))) {
          promptSeenAt = stdout.length;
          const next = lines.shift();
          if (next !== undefined) child.stdin.write(next);
        }
      });
    } else {
      child.stdin.end(options.input ?? '');
    }
  });
}
