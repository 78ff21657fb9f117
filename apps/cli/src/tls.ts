import { readFileSync } from 'node:fs';
import { CliError } from './errors';

/**
 * MUELLE_TLS_CA: a PEM CA trusted next to the system's roots, for an api served with Muelle's own
 * certificates. The roots are given to the HTTP agent (`http.ts`) and to WebSockets (`-it`).
 * node:tls is loaded here only when it is set: it costs every other start ~15 ms of compiling.
 */
export function trustedRoots(caFile = process.env.MUELLE_TLS_CA): string[] | undefined {
  if (!caFile) return undefined;
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (error) {
    throw new CliError(`MUELLE_TLS_CA: cannot read ${caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 125, 'INVALID_ARGUMENT');
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`MUELLE_TLS_CA: ${caFile} is not a PEM certificate`, 125, 'INVALID_ARGUMENT');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { rootCertificates } = require('node:tls') as typeof import('node:tls');
  return [...rootCertificates, pem];
}
