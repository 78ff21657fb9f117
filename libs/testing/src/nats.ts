import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

export const NATS_SERVER = process.env.MUELLE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

/** Who may connect: a password user (the default), a token, NKey users (their public keys), or anyone. */
export type NatsServerAuth = { user: string; password: string } | { token: string } | { nkeys: string[] } | 'none';

export interface RunningNats {
  url: string;
  port: number;
  /** What a Muelle service needs in its environment to use this server (NATS_URL and credentials). */
  env: Record<string, string>;
  output(): string;
  stop(): Promise<void>;
}

const quote = (value: string) => JSON.stringify(value);

function authorizationBlock(auth: NatsServerAuth): string {
  if (auth === 'none') return '';
  if ('token' in auth) return `authorization { token: ${quote(auth.token)} }`;
  if ('nkeys' in auth) return `authorization { users: [ ${auth.nkeys.map((key) => `{ nkey: ${quote(key)} }`).join(', ')} ] }`;
  return `authorization { users: [ { user: ${quote(auth.user)}, password: ${quote(auth.password)} } ] }`;
}

/**
 * A private nats-server on a free loopback port, by default requiring a generated user and
 * password (as production does). Tests that share the machine's open NATS on 4222 must say
 * MUELLE_BUS_INSECURE=true instead.
 */
export async function startNatsServer(options: { auth?: NatsServerAuth; tls?: { cert: string; key: string } } = {}): Promise<RunningNats> {
  const auth = options.auth ?? { user: 'muelle', password: randomBytes(18).toString('base64url') };
  const dir = mkdtempSync(join(tmpdir(), 'muelle-nats-'));
  const port = await freePort();
  const config = join(dir, 'nats.conf');
  const tls = options.tls ? `tls { cert_file: ${quote(options.tls.cert)}, key_file: ${quote(options.tls.key)} }` : '';
  writeFileSync(config, [`listen: "127.0.0.1:${port}"`, authorizationBlock(auth), tls, ''].join('\n'), { mode: 0o600 });
  const child = spawn(NATS_SERVER, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await waitForPort(port, () => (child.exitCode !== null ? `nats-server exited: ${text}` : undefined));
  const env: Record<string, string> = { NATS_URL: `${options.tls ? 'tls' : 'nats'}://127.0.0.1:${port}` };
  if (auth === 'none') env.MUELLE_BUS_INSECURE = 'true';
  else if ('token' in auth) env.NATS_TOKEN = auth.token;
  else if ('user' in auth) Object.assign(env, { NATS_USER: auth.user, NATS_PASSWORD: auth.password });
  return {
    url: env.NATS_URL,
    port,
    env,
    output: () => text,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Until something accepts connections on 127.0.0.1:port; `failed` says why to give up early. */
export async function waitForPort(port: number, failed: () => string | undefined = () => undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failed();
    if (reason) throw new Error(reason);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
