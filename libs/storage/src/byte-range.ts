import { RangeNotSatisfiableError } from './errors';

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Resolves a requested range against an object's size with HTTP semantics: an `end`
 * past the last byte is clamped to it (`bytes=2000-5000` of 2048 bytes → 2000-2047);
 * a negative or non-integer bound, `start > end`, or `start` at/after the end of the
 * object (any range of a 0-byte object) is not satisfiable.
 * Both drivers use it; callers can use it to build `Content-Range` headers.
 */
export function resolveByteRange(key: string, range: ByteRange, size: number): ByteRange {
  const { start, end } = range;
  const wellFormed = Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end;
  if (!wellFormed || start >= size) throw new RangeNotSatisfiableError(key, range, size);
  return { start, end: Math.min(end, size - 1) };
}
