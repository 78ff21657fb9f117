import { spawn } from 'node:child_process';

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the stock `docker` CLI (Debian package docker.io) against Muelle: `DOCKER_HOST` points at
 * the api and `DOCKER_CONFIG` holds `{"HttpHeaders": {"Authorization": "Bearer …"}}`.
 */
export function docker(args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<DockerResult> {
  return run('docker', args, env, options);
}

/** `docker …` inside a pseudo-terminal (`script` from bsdutils), for `-it`; `input` is typed slowly. */
export function dockerInTerminal(args: string[], env: Record<string, string>, input: string, timeoutMs = 60_000): Promise<DockerResult> {
  const command = ['docker', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('script', ['-qefc', command, '/dev/null'], env, { input, timeoutMs, slowInput: true });
}

function run(file: string, args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number; slowInput?: boolean; cwd?: string }): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm', HOME: env.DOCKER_CONFIG ?? '/tmp', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined && options.slowInput) {
      const lines = options.input.split(/(?<=\n)/);
      let delay = 2_000;
      for (const line of lines) {
        setTimeout(() => child.stdin.writable && child.stdin.write(line), delay);
        delay += 700;
      }
      setTimeout(() => child.stdin.end(), delay + 5_000);
    } else child.stdin.end(options.input ?? '');
  });
}
