import { setStreamLiveness, validStreamLiveness, type NatsAuth, type NatsBus, type NatsTls } from '@muelle/bus';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { bool, ConfigError, exitOnConfigError } from './config';

const secret = z.string().min(1);
const file = z.string().min(1);

/**
 * The bus's credentials and TLS, read by every service that talks to NATS. Secrets come from the
 * variable itself or from a file named by `<VARIABLE>_FILE` (Docker/Kubernetes secrets), never both.
 */
export const busConfigShape = {
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: secret.optional(),
  NATS_PASSWORD_FILE: file.optional(),
  NATS_TOKEN: secret.optional(),
  NATS_TOKEN_FILE: file.optional(),
  /** An NKey user seed (`SU…`). */
  NATS_NKEY_SEED: secret.optional(),
  NATS_NKEY_SEED_FILE: file.optional(),
  /** A `.creds` file: a user JWT and its NKey seed (decentralised auth with an operator). */
  NATS_CREDS_FILE: file.optional(),
  /** PEM CA that signed the NATS server's certificate; setting it (or a client certificate) turns TLS on. */
  NATS_TLS_CA: file.optional(),
  NATS_TLS_CERT: file.optional(),
  NATS_TLS_KEY: file.optional(),
  /** `true` lets a service talk to a NATS without credentials (a loopback-only test server). */
  MUELLE_BUS_INSECURE: bool(false),
  /** Every bus byte stream's keep-alive interval (libs/bus stream-liveness.ts). */
  MUELLE_STREAM_KEEPALIVE_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  /** Silence from a stream's peer longer than this ends the stream as "peer gone" (≥ 2 keep-alives). */
  MUELLE_STREAM_SILENCE_MS: z.coerce.number().int().min(20).max(600_000).default(5000),
};
export type BusSettings = z.output<z.ZodObject<typeof busConfigShape>>;

const METHODS = 'NATS_USER and NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED or NATS_CREDS_FILE (or their *_FILE variants)';

/** `X` or the contents of the file `X_FILE`; refuses both at once. */
function secretOf(settings: BusSettings, variable: 'NATS_PASSWORD' | 'NATS_TOKEN' | 'NATS_NKEY_SEED', read: (path: string) => string): string | undefined {
  const fileVariable = `${variable}_FILE` as const;
  const inline = settings[variable];
  const path = settings[fileVariable];
  if (inline && path) throw new ConfigError(variable, `set either ${variable} or ${fileVariable}, not both`);
  if (!path) return inline;
  const value = readOrFail(fileVariable, path, read).trim();
  if (!value) throw new ConfigError(fileVariable, `${path} is empty`);
  return value;
}

function readOrFail(variable: string, path: string, read: (path: string) => string): string {
  try {
    return read(path);
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function authOf(settings: BusSettings, read: (path: string) => string): NatsAuth | undefined {
  const password = secretOf(settings, 'NATS_PASSWORD', read);
  const token = secretOf(settings, 'NATS_TOKEN', read);
  const seed = secretOf(settings, 'NATS_NKEY_SEED', read);
  const creds = settings.NATS_CREDS_FILE ? readOrFail('NATS_CREDS_FILE', settings.NATS_CREDS_FILE, read) : undefined;
  if (settings.NATS_USER && !password) throw new ConfigError('NATS_PASSWORD', 'is required with NATS_USER');
  if (password && !settings.NATS_USER) throw new ConfigError('NATS_USER', 'is required with NATS_PASSWORD');
  const given: NatsAuth[] = [];
  if (settings.NATS_USER && password) given.push({ kind: 'user', user: settings.NATS_USER, password });
  if (token) given.push({ kind: 'token', token });
  if (seed) {
    if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new ConfigError(settings.NATS_NKEY_SEED_FILE ? 'NATS_NKEY_SEED_FILE' : 'NATS_NKEY_SEED', 'must be an NKey user seed (SU…, 58 characters)');
    given.push({ kind: 'nkey', seed });
  }
  if (creds) {
    if (!/-----BEGIN NATS USER JWT-----/.test(creds) || !/-----BEGIN USER NKEY SEED-----/.test(creds)) {
      throw new ConfigError('NATS_CREDS_FILE', `${settings.NATS_CREDS_FILE} is not a NATS .creds file (a user JWT and its seed)`);
    }
    given.push({ kind: 'creds', creds });
  }
  if (given.length > 1) throw new ConfigError('NATS_URL', `give one way to authenticate to NATS, not ${given.map((g) => g.kind).join(' and ')}`);
  return given[0];
}

function tlsOf(settings: BusSettings, url: string, read: (path: string) => string): NatsTls | undefined {
  const { NATS_TLS_CA: caFile, NATS_TLS_CERT: certFile, NATS_TLS_KEY: keyFile } = settings;
  if (!!certFile !== !!keyFile) throw new ConfigError(certFile ? 'NATS_TLS_KEY' : 'NATS_TLS_CERT', 'NATS_TLS_CERT and NATS_TLS_KEY go together');
  // Read now, so a wrong path stops the service at start instead of at every reconnect.
  if (caFile) readOrFail('NATS_TLS_CA', caFile, read);
  if (certFile) readOrFail('NATS_TLS_CERT', certFile, read);
  if (keyFile) readOrFail('NATS_TLS_KEY', keyFile, read);
  const wanted = caFile || certFile || url.split(',').some((server) => server.startsWith('tls://'));
  if (!wanted) return undefined;
  return { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile, keyFile } : {}) };
}

/**
 * The NATS transport a service uses, from its validated settings. A service refuses to start
 * without credentials unless MUELLE_BUS_INSECURE=true says the open bus is deliberate.
 */
export function natsBusOf(
  settings: BusSettings & { NATS_URL: string },
  namespace?: string,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): NatsBus {
  const auth = authOf(settings, read);
  if (!auth && !settings.MUELLE_BUS_INSECURE) {
    throw new ConfigError('NATS_URL', `no credentials for the bus: set ${METHODS}, or MUELLE_BUS_INSECURE=true to use a NATS without authentication`);
  }
  if (auth && settings.MUELLE_BUS_INSECURE) throw new ConfigError('MUELLE_BUS_INSECURE', 'is true but NATS credentials are set: remove one');
  const tls = tlsOf(settings, settings.NATS_URL, read);
  return { kind: 'nats', url: settings.NATS_URL, ...(namespace ? { namespace } : {}), ...(auth ? { auth } : {}), ...(tls ? { tls } : {}) };
}

/** Sets the process's stream liveness from its settings (every bus stream opened afterwards uses it). */
export function applyStreamLiveness(settings: Pick<BusSettings, 'MUELLE_STREAM_KEEPALIVE_MS' | 'MUELLE_STREAM_SILENCE_MS'>): void {
  const options = { keepAliveMs: settings.MUELLE_STREAM_KEEPALIVE_MS, silenceMs: settings.MUELLE_STREAM_SILENCE_MS };
  const problem = validStreamLiveness(options);
  if (problem) throw new ConfigError('MUELLE_STREAM_SILENCE_MS', `${problem} (MUELLE_STREAM_KEEPALIVE_MS=${options.keepAliveMs})`);
  setStreamLiveness(options);
}

/** For main(): the bus transport, or exit 2 with one line naming the variable (like loadConfigOrExit). */
export function natsBusOrExit(service: string, settings: BusSettings & { NATS_URL: string }, namespace?: string): NatsBus {
  return exitOnConfigError(service, () => natsBusOf(settings, namespace));
}

/** NATS answered our CONNECT with an authorization error (wrong, missing or expired credentials). */
export function isBusAuthorizationError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === 'AUTHORIZATION_VIOLATION' || code === 'AUTHENTICATION_EXPIRED' || /authorization violation|authentication expired/i.test(message ?? '');
}

/**
 * Refused credentials do not fix themselves: stop with one line (exit 2, like a configuration
 * error) instead of running not-ready forever.
 */
export function exitOnRefusedBus(service: string, error: unknown): never {
  process.stderr.write(`muelle ${service}: NATS refused the bus credentials (${(error as Error).message}): check NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED or NATS_CREDS_FILE\n`);
  process.exit(2);
}
