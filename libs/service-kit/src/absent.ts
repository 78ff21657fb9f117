/** `ENOENT`/`ENOTDIR`: the path, or a directory on the way to it, does not exist. */
export function isAbsent(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * What `operation` gives, or `fallback` when the file it reads does not exist. Any other failure
 * (permissions, I/O, a full disk) propagates: only a missing path is an expected answer.
 */
export async function unlessAbsent<T, F>(operation: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await operation;
  } catch (error) {
    if (isAbsent(error)) return fallback;
    throw error;
  }
}
