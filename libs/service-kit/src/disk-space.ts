import { statfs } from 'node:fs/promises';
import { z } from 'zod';
import type { ReadinessCheck } from './readiness';

/** Default of MUELLE_MIN_FREE_BYTES: below this a service that writes to disk reports itself not ready. */
export const DEFAULT_MIN_FREE_BYTES = 512 * 1024 * 1024;

/** `MUELLE_MIN_FREE_BYTES`: bytes that must stay free under the data folder (0: never report low disk). */
export const minFreeBytes = z.coerce.number().int().nonnegative().default(DEFAULT_MIN_FREE_BYTES);

/** Bytes an unprivileged writer can still use on the filesystem that holds `path`. */
export async function freeBytes(path: string): Promise<number> {
  const fs = await statfs(path);
  return Number(fs.bavail) * Number(fs.bsize);
}

/** `8589934592` → `8 GiB`, `1610612736` → `1.5 GiB`: the figures refusals and reports show. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Math.round(value * 100) / 100} ${units[unit]}`;
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
