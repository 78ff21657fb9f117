import { InvalidDigestError, InvalidNameError, InvalidTagError } from './errors';
import { assertValidRepositoryName, assertValidTag, isValidDigest, isValidRepositoryName, isValidTag, isValidUploadId, parseDigest, referrersTagFor } from './grammar';

const HEX64 = 'a'.repeat(64);

describe('repository names', () => {
  it.each(['busybox', 'team/app', 'a/b/c', 'my-app', 'my--app', 'my_app', 'my__app', 'my.app', 'a0/b1.c2_d3-e4'])('accepts %s', (name) => {
    expect(isValidRepositoryName(name)).toBe(true);
    expect(() => assertValidRepositoryName(name)).not.toThrow();
  });

  it.each(['', 'Team/app', 'app/', '/app', 'a//b', '-app', 'app-', 'a___b', 'a..b', 'a.-b', 'app:tag', 'a/../b', 'a b', 'app%2Fx', 'a\\b'])('rejects %j', (name) => {
    expect(isValidRepositoryName(name)).toBe(false);
    expect(() => assertValidRepositoryName(name)).toThrow(InvalidNameError);
  });

  it('limits the whole name to 255 characters', () => {
    const exact = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
    expect(exact).toHaveLength(255);
    expect(isValidRepositoryName(exact)).toBe(true);
    expect(isValidRepositoryName(`${exact}c`)).toBe(false);
    expect(() => assertValidRepositoryName(`${exact}c`)).toThrow(/longer than 255/);
  });
});

describe('tags', () => {
  it.each(['latest', '1.36', '_x', 'A', 'v1.2.3-rc.1_build', 'a'.repeat(128)])('accepts %s', (tag) => expect(isValidTag(tag)).toBe(true));
  it.each(['', '.hidden', '-x', 'a'.repeat(129), 'a/b', 'a:b', 'tag with space', 'ü'])('rejects %j', (tag) => {
    expect(isValidTag(tag)).toBe(false);
    expect(() => assertValidTag(tag)).toThrow(InvalidTagError);
  });
});

describe('parseDigest', () => {
  it('parses sha256 and sha512', () => {
    expect(parseDigest(`sha256:${HEX64}`)).toEqual({ algorithm: 'sha256', encoded: HEX64 });
    expect(parseDigest(`sha512:${'0'.repeat(128)}`)).toEqual({ algorithm: 'sha512', encoded: '0'.repeat(128) });
  });

  it.each([
    ['sha256:totallywrong', 'encoding'],
    ['sha256:baddigeststring', 'encoding'],
    [`sha256:${'A'.repeat(64)}`, 'encoding'],
    [`sha256:${'a'.repeat(63)}`, 'encoding'],
    [`sha256:${'a'.repeat(65)}`, 'encoding'],
    [`sha512:${HEX64}`, 'encoding'],
    [`md5:${'a'.repeat(32)}`, 'unsupported-algorithm'],
    [`blake3:${HEX64}`, 'unsupported-algorithm'],
    [`sha256+b64u:${HEX64}`, 'unsupported-algorithm'],
    ['', 'grammar'],
    ['sha256', 'grammar'],
    [`:${HEX64}`, 'grammar'],
    [`SHA256:${HEX64}`, 'grammar'],
    [`sha256:${HEX64}\n`, 'grammar'],
    [`sha256:../../${HEX64}`, 'grammar'],
  ])('rejects %j (%s)', (digest, problem) => {
    expect(isValidDigest(digest)).toBe(false);
    try {
      parseDigest(digest);
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidDigestError);
      expect((error as InvalidDigestError).problem).toBe(problem);
      expect((error as InvalidDigestError).code).toBe('DIGEST_INVALID');
    }
  });
});

describe('upload ids', () => {
  it('accepts crypto.randomUUID() output and nothing path-like', () => {
    expect(isValidUploadId(crypto.randomUUID())).toBe(true);
    expect(isValidUploadId('6F9619FF-8B86-D011-B42D-00C04FC964FF')).toBe(false);
    expect(isValidUploadId('../../etc/passwd')).toBe(false);
    expect(isValidUploadId(`${crypto.randomUUID()}/x`)).toBe(false);
  });
});

describe('referrersTagFor', () => {
  it('uses <alg>-<hex> and truncates sha512 to 64 characters', () => {
    expect(referrersTagFor(`sha256:${HEX64}`)).toBe(`sha256-${HEX64}`);
    const tag = referrersTagFor(`sha512:${'b'.repeat(128)}`);
    expect(tag).toBe(`sha512-${'b'.repeat(64)}`);
    expect(isValidTag(tag)).toBe(true);
  });
});
