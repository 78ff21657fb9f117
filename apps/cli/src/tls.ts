import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { CliError } from './errors';

/**
 * MUELLE_TLS_CA: a PEM CA trusted next to the system's roots, for an api served with Muelle's own
 * certificates. The roots are given to the HTTP agent (`http.ts`) and to WebSockets (`-it`).
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
  return [...rootCertificates, pem];
}
