import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { CliError } from './errors';

/**
 * MUELLE_TLS_CA: a PEM CA trusted next to the system's roots, for an api served with Muelle's own
 * certificates. The roots are returned for WebSockets (`-it`) and given to fetch by `fetchTrusting`.
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

/**
 * Makes fetch (every /v1 call) verify with `roots`. undici is loaded only here: most calls need no
 * CA of their own, and loading it costs a third of the CLI's start-up.
 */
export async function fetchTrusting(roots: string[]): Promise<void> {
  const { Agent, setGlobalDispatcher } = await import('undici');
  setGlobalDispatcher(new Agent({ connect: { ca: roots } }));
}
