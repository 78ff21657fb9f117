import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** The whole environment of the command (PATH and TERM are added when missing). */
  env: Record<string, string>;
  cwd?: string;
  timeoutMs: number;
  /** Written to stdin, then stdin is closed — unless `feed` takes over stdin. */
  input?: string;
  /** Drives stdin itself (a scripted terminal session); gets the output captured so far. */
  feed?: (child: ChildProcessWithoutNullStreams, stdout: () => string) => void;
}

/** Runs a command as a user would, capturing its output; rejects with that output on timeout. */
export function runCommand(file: string, args: string[], options: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', ...options.env };
    const child = spawn(file, args, { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs);
    child.on('error', reject);
    // A command that never reads its input (`tar -tf file`) may exit before our write lands: EPIPE
    // then says only that, and its exit code and output are the result. Other stdin errors fail.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.feed) options.feed(child, () => stdout);
    else child.stdin.end(options.input ?? '');
  });
}

/** `script` (bsdutils) runs `argv` in a real pseudo-terminal: what `-it` commands need. */
export function inTerminal(argv: string[]): [string, string[]] {
  const command = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return ['script', ['-qefc', command, '/dev/null']];
}
