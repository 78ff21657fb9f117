import { createHash, randomBytes } from 'node:crypto';
import { chainIdsOf, digestOf, matchesDigest, sha256Hex } from './digest';
import { InvalidDigestError } from './errors';

const nodeDigest = (alg: 'sha256' | 'sha512', data: Buffer) => `${alg}:${createHash(alg).update(data).digest('hex')}`;

describe('one-shot digests', () => {
  it('match node crypto and the well-known empty values', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(digestOf(Buffer.from('{}'))).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    const data = randomBytes(1000);
    expect(digestOf(data, 'sha512')).toBe(nodeDigest('sha512', data));
    expect(matchesDigest(data, digestOf(data, 'sha512'))).toBe(true);
    expect(matchesDigest(data, digestOf(Buffer.from('other')))).toBe(false);
    expect(() => matchesDigest(data, 'sha256:nope')).toThrow(InvalidDigestError);
  });

  it('computes ChainIDs as image-spec defines them', () => {
    const a = digestOf('a');
    const b = digestOf('b');
    const c = digestOf('c');
    const ab = digestOf(`${a} ${b}`);
    expect(chainIdsOf([a, b, c])).toEqual([a, ab, digestOf(`${ab} ${c}`)]);
    expect(chainIdsOf([])).toEqual([]);
  });
});
