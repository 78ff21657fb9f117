import { statfs } from 'node:fs/promises';
import { z } from 'zod';
import type { ReadinessCheck } from './readiness';
import { formatBytes } from '@muelle/contracts';

// Re-exported for the services that already name it here; the function itself lives in contracts.
export { formatBytes };

/** Default of MUELLE_MIN_FREE_BYTES: below this a service that writes to disk reports itself not ready. */
export const DEFAULT_MIN_FREE_BYTES = 512 * 1024 * 1024;

/** `MUELLE_MIN_FREE_BYTES`: bytes that must stay free under the data folder (0: never report low disk). */
export const minFreeBytes = z.coerce.number().int().nonnegative().default(DEFAULT_MIN_FREE_BYTES);

/** Bytes an unprivileged writer can still use on the filesystem that holds `path`. */
export async function freeBytes(path: string): Promise<number> {
  const fs = await statfs(path);
  return Number(fs.bavail) * Number(fs.bsize);
}

/**
 * A readiness check that fails while less than `minFree` bytes are free under `path`, so load
 * balancers, operators and the scheduler see a filling disk before writes start failing with
 * ENOSPC. Passing, it reports what is free.
 */
export function diskSpaceCheck(path: string, minFree: number): ReadinessCheck {
  return async () => {
    const free = await freeBytes(path);
    if (free < minFree) throw new Error(`low disk: ${formatBytes(free)} free under ${path}, below MUELLE_MIN_FREE_BYTES (${formatBytes(minFree)})`);
    return `${formatBytes(free)} free`;
  };
}
