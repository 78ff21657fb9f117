import { InvalidKeyError } from './errors';

/** Longest accepted key, in characters (keys are ASCII). S3 allows 1024 bytes including a configured prefix. */
export const MAX_KEY_LENGTH = 900;
/** Longest accepted segment: a file name on common Linux filesystems (NAME_MAX). */
export const MAX_SEGMENT_LENGTH = 255;

// A segment may not start with a dot: this rules out "." and ".." and keeps hidden
// names (the filesystem driver's ".tmp" staging directory) out of the key space.
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * The single place that decides what a storage key is: `/`-separated segments of
 * `[A-Za-z0-9._-]`, no empty segment, no segment starting with `.` (so no `.` or `..`),
 * no leading or trailing slash, at most MAX_KEY_LENGTH characters.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string') throw new InvalidKeyError(String(key), 'a key must be a string');
  if (key.length === 0) throw new InvalidKeyError(key, 'a key must not be empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(key, `a key must be at most ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw new InvalidKeyError(key, 'a key must be relative (no leading slash)');
  for (const segment of key.split('/')) {
    if (segment.length === 0) throw new InvalidKeyError(key, 'a key must not contain empty segments');
    if (segment === '.' || segment === '..') throw new InvalidKeyError(key, `segment "${segment}" is not allowed`);
    if (segment.length > MAX_SEGMENT_LENGTH) {
      throw new InvalidKeyError(key, `a segment must be at most ${MAX_SEGMENT_LENGTH} characters`);
    }
    if (!SEGMENT.test(segment)) {
      throw new InvalidKeyError(key, `segment "${segment}" must match ${SEGMENT.source}`);
    }
  }
}

/**
 * A listing prefix is a string prefix of keys: "" (everything), a directory such as
 * "uploads/abc/", or a partial key such as "blobs/sha256/a". It follows the key rules,
 * except that it may be empty and may end with one slash.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  try {
    assertValidKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  } catch (err) {
    if (err instanceof InvalidKeyError) throw new InvalidKeyError(prefix, `invalid listing prefix: ${err.reason}`);
    throw err;
  }
}
