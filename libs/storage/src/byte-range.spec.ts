import { resolveByteRange } from './byte-range';
import { RangeNotSatisfiableError } from './errors';

describe('resolveByteRange', () => {
  it.each([
    [{ start: 500, end: 1499 }, 2048, { start: 500, end: 1499 }],
    [{ start: 2000, end: 5000 }, 2048, { start: 2000, end: 2047 }],
    [{ start: 0, end: Number.MAX_SAFE_INTEGER }, 10, { start: 0, end: 9 }],
    [{ start: 9, end: 9 }, 10, { start: 9, end: 9 }],
  ])('resolves %j of %i bytes to %j', (range, size, expected) => {
    expect(resolveByteRange('k', range, size)).toEqual(expected);
  });

  it.each([
    [{ start: 5000, end: 10000 }, 2048],
    [{ start: 2048, end: 2048 }, 2048],
    [{ start: 500, end: 0 }, 2048],
    [{ start: -1, end: 5 }, 2048],
    [{ start: 0.5, end: 5 }, 2048],
    [{ start: 0, end: Number.NaN }, 2048],
    [{ start: 0, end: 0 }, 0],
  ])('rejects %j of %i bytes', (range, size) => {
    expect(() => resolveByteRange('k', range, size)).toThrow(RangeNotSatisfiableError);
  });

  it('names the key, range and size in the error', () => {
    expect(() => resolveByteRange('blobs/x', { start: 10, end: 20 }, 5)).toThrow('range 10-20 is not satisfiable for blobs/x (size 5)');
  });
});
