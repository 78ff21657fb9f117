import * as path from 'node:path';
import fc from 'fast-check';
import { InvalidKeyError } from './errors';
import { assertValidKey, assertValidPrefix, MAX_KEY_LENGTH } from './keys';

describe('assertValidKey', () => {
  it.each(['blobs/sha256/ab/0123abcd', 'uploads/3f2b6c1e-93f4-4f0e-9a57-1c3f0e0b9d1a/3', 'a', 'a.b_c-d/e..f', '_x/-y'])(
    'accepts %j',
    (key) => {
      expect(() => assertValidKey(key)).not.toThrow();
    },
  );

  it.each([
    ['', /empty/],
    ['/abs', /leading slash/],
    ['a//b', /empty segments/],
    ['a/', /empty segments/],
    ['../x', /"\.\."/],
    ['a/./b', /"\."/],
    ['.tmp/x', /must match/],
    ['a b', /must match/],
    ['a\\b', /must match/],
    ['ü', /must match/],
    ['a\u0000b', /must match/],
    ['x'.repeat(MAX_KEY_LENGTH + 1), /at most/],
    [`a/${'y'.repeat(256)}`, /segment must be at most 255/],
  ])('rejects %j', (key, reason) => {
    expect(() => assertValidKey(key)).toThrow(InvalidKeyError);
    expect(() => assertValidKey(key)).toThrow(reason);
  });

  it('never accepts a key that escapes or renames inside a root directory', () => {
    const root = '/srv/blobs';
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '.', '..', '/', '\\', '-', '_', '~', ' '), { maxLength: 12 }), (parts) => {
        const key = parts.join('');
        let valid = true;
        try {
          assertValidKey(key);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidKeyError);
          valid = false;
        }
        if (valid) {
          const resolved = path.resolve(root, key);
          expect(resolved.startsWith(`${root}/`)).toBe(true);
          // The key maps to exactly that relative path: no segment was collapsed.
          expect(path.relative(root, resolved)).toBe(key);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('assertValidPrefix', () => {
  it.each(['', 'blobs/', 'blobs/sha256/a', 'uploads'])('accepts %j', (prefix) => {
    expect(() => assertValidPrefix(prefix)).not.toThrow();
  });

  it.each(['/', '../', 'a//', '/abs', 'a/./', 'a//b/'])('rejects %j', (prefix) => {
    expect(() => assertValidPrefix(prefix)).toThrow(InvalidKeyError);
  });
});
