import { CommandOptions, CommandResult, inTerminal, runCommand } from '@muelle/testing';

export type DockerResult = CommandResult;

// The docker CLI keeps state under HOME unless DOCKER_CONFIG says otherwise.
const dockerEnv = (env: Record<string, string>) => ({ HOME: env.DOCKER_CONFIG ?? '/tmp', ...env });

/**
 * Runs the stock `docker` CLI (Debian package docker.io) against Muelle: `DOCKER_HOST` points at
 * the api and `DOCKER_CONFIG` holds `{"HttpHeaders": {"Authorization": "Bearer …"}}`.
 */
export function docker(args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number; cwd?: string; feed?: CommandOptions['feed'] } = {}): Promise<DockerResult> {
  return runCommand('docker', args, { env: dockerEnv(env), cwd: options.cwd, input: options.input, feed: options.feed, timeoutMs: options.timeoutMs ?? 90_000 });
}

/** `docker …` inside a pseudo-terminal, for `-it`; `input` is typed slowly. */
export function dockerInTerminal(args: string[], env: Record<string, string>, input: string, timeoutMs = 60_000): Promise<DockerResult> {
  const [file, argv] = inTerminal(['docker', ...args]);
  return runCommand(file, argv, {
    env: dockerEnv(env),
    timeoutMs,
    feed(child) {
      let delay = 2_000;
      for (const line of input.split(/(?<=\n)/)) {
        setTimeout(() => child.stdin.writable && child.stdin.write(line), delay);
        delay += 700;
      }
      setTimeout(() => child.stdin.end(), delay + 5_000);
    },
  });
}
