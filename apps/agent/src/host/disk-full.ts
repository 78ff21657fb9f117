import { UnavailableError } from '@muelle/contracts';

const FULL = new Set(['ENOSPC', 'EDQUOT']);

/** The first ENOSPC/EDQUOT in an error or its causes (layer unpacking and stores wrap what they catch). */
function fullDiskCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && FULL.has(code)) return code;
  }
  return undefined;
}

/**
 * A full disk while pulling, unpacking, creating or starting is the host's condition, not a bug:
 * the answer names the host and the reason (503, the operation may succeed on another host or
 * once space is freed) instead of "internal error". Anything else passes unchanged.
 */
export function nameFullDisk(hostId: string, error: unknown): unknown {
  const code = fullDiskCode(error);
  if (!code) return error;
  return new UnavailableError(`host ${hostId} has no space left on its disk (${code}): free space there or run elsewhere`, { host: hostId, reason: 'disk-full' });
}

/** Runs `work`, answering a full disk as nameFullDisk says. */
export async function onHostDisk<T>(hostId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw nameFullDisk(hostId, error);
  }
}
