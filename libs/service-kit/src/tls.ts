import { readFileSync } from 'node:fs';
import { globalAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import { ConfigError } from './config';

const pemFile = z.string().min(1);

/** What the api and the registry serve HTTPS with (both or neither). */
export const serveTlsShape = {
  /** PEM certificate chain; with MUELLE_TLS_KEY the api and registry serve HTTPS instead of HTTP. */
  MUELLE_TLS_CERT: pemFile.optional(),
  MUELLE_TLS_KEY: pemFile.optional(),
};

/** What a service that calls registries trusts, and which registries it may reach over plain http. */
export const trustTlsShape = {
  /** A PEM CA trusted next to the system's roots (for Muelle's registry and api). */
  MUELLE_TLS_CA: pemFile.optional(),
  /** Comma-separated `host:port` reached over plain http; loopback registries may always fall back to it. */
  MUELLE_INSECURE_REGISTRIES: z
    .string()
    .regex(/^\s*([A-Za-z0-9.-]+(:[0-9]+)?|\[[0-9a-fA-F:]+\](:[0-9]+)?)(\s*,\s*([A-Za-z0-9.-]+(:[0-9]+)?|\[[0-9a-fA-F:]+\](:[0-9]+)?))*\s*$/, 'comma-separated host:port')
    .optional(),
};
export const tlsConfigShape = { ...serveTlsShape, ...trustTlsShape };

export interface ServerTls {
  cert: Buffer;
  key: Buffer;
}

function readPem(variable: string, path: string, marker: RegExp): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ConfigError(variable, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!marker.test(bytes.toString('latin1'))) throw new ConfigError(variable, `${path} is not a PEM file of the expected kind`);
  return bytes;
}

/** The certificate and key to serve HTTPS with, or undefined for plain HTTP. */
export function serverTlsOf(config: { MUELLE_TLS_CERT?: string; MUELLE_TLS_KEY?: string }): ServerTls | undefined {
  const { MUELLE_TLS_CERT: cert, MUELLE_TLS_KEY: key } = config;
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new ConfigError(cert ? 'MUELLE_TLS_KEY' : 'MUELLE_TLS_CERT', 'MUELLE_TLS_CERT and MUELLE_TLS_KEY go together');
  return { cert: readPem('MUELLE_TLS_CERT', cert, /-----BEGIN CERTIFICATE-----/), key: readPem('MUELLE_TLS_KEY', key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/) };
}

/** The registries a service may reach over plain http (MUELLE_INSECURE_REGISTRIES plus any older alias). */
export function insecureRegistriesOf(...lists: Array<string | undefined>): string[] {
  return [...new Set(lists.flatMap((list) => (list ?? '').split(',').map((entry) => entry.trim()).filter(Boolean)))];
}

/**
 * Adds MUELLE_TLS_CA to the roots this process trusts, for node:https (registry clients, token
 * requests) and fetch alike. Process-wide on purpose: every outgoing HTTPS call of a service goes
 * to Muelle's own registry or to a public one, and both must be verified the same way.
 */
export function trustCertificateAuthority(config: { MUELLE_TLS_CA?: string }): void {
  if (!config.MUELLE_TLS_CA) return;
  const ca = [...rootCertificates, readPem('MUELLE_TLS_CA', config.MUELLE_TLS_CA, /-----BEGIN CERTIFICATE-----/).toString('utf8')];
  globalAgent.options.ca = ca;
  // Loaded only when a CA is configured: undici costs ~0.1 s of CPU at every start otherwise.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- synchronous on purpose (called before anything listens)
  const { Agent, setGlobalDispatcher } = require('undici') as typeof import('undici');
  setGlobalDispatcher(new Agent({ connect: { ca } }));
}
