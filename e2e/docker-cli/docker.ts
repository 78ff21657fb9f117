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

/** A key (or line) to type; with `after`, only once the output shows that text. */
export type Keystroke = string | { text: string; after: string };

/**
 * Runs `argv` in a pseudo-terminal as a person would: answers the shell's cursor-position query
 * (ESC[6n), types each keystroke after a pause of `gapMs` (the first after `startMs` more) (waiting for its `after` text when
 * given), and never closes the input (so a command that should leave by itself — a detach — is
 * not helped out by an end of input).
 */
export function typeInTerminal(argv: string[], env: Record<string, string>, keys: Keystroke[], options: { cwd?: string; startMs?: number; gapMs?: number; timeoutMs?: number } = {}): Promise<CommandResult> {
  const [file, args] = inTerminal(argv);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  return runCommand(file, args, {
    env: dockerEnv(env),
    cwd: options.cwd,
    timeoutMs,
    feed(child, stdout) {
      let answered = 0;
      child.stdout.on('data', () => {
        const seen = stdout();
        for (let at = seen.indexOf('\x1b[6n', answered); at >= 0; at = seen.indexOf('\x1b[6n', answered)) {
          if (child.stdin.writable) child.stdin.write('\x1b[24;1R');
          answered = at + 4;
        }
      });
      void (async () => {
        await sleep(options.startMs ?? 2_000);
        let typedUpTo = 0;
        for (const key of keys) {
          const { text, after } = typeof key === 'string' ? { text: key, after: undefined } : key;
          // Bounded by the command's own timeout: polls at most that long.
          for (let waited = 0; after !== undefined && !stdout().slice(typedUpTo).includes(after) && waited < timeoutMs; waited += 50) await sleep(50);
          // A pause before each key: the program reads it alone, not with our answer to a cursor query.
          await sleep(options.gapMs ?? 700);
          if (!child.stdin.writable || child.exitCode !== null) return;
          typedUpTo = stdout().length;
          child.stdin.write(text);
        }
      })();
    },
  });
}
