import { VerifiedPasswords } from './verified-passwords';

describe('VerifiedPasswords', () => {
  const stored = 'scrypt$131072$8$1$c2FsdA$a2V5';

  it('accepts only the exact password remembered for the exact stored hash', () => {
    const cache = new VerifiedPasswords();
    cache.remember('right', stored);
    expect(cache.has('right', stored)).toBe(true);
    expect(cache.has('wrong', stored)).toBe(false);
    expect(cache.has('righ', stored)).toBe(false);
    expect(cache.has('right ', stored)).toBe(false);
  });

  it('forgets the password once the stored hash changes (a password change or reset)', () => {
    const cache = new VerifiedPasswords();
    cache.remember('right', stored);
    expect(cache.has('right', 'scrypt$131072$8$1$bmV3$bmV3')).toBe(false);
  });

  it('does not let a password and hash split differently collide', () => {
    const cache = new VerifiedPasswords();
    cache.remember('ab', 'c');
    expect(cache.has('a', 'bc')).toBe(false);
  });

  it('expires entries after the TTL', () => {
    let now = 1_000;
    const cache = new VerifiedPasswords(300_000, () => now);
    cache.remember('right', stored);
    now += 299_999;
    expect(cache.has('right', stored)).toBe(true);
    now += 2;
    expect(cache.has('right', stored)).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('keeps neither the password nor the hash in its keys', () => {
    const cache = new VerifiedPasswords();
    cache.remember('hunter2-secret', stored);
    const keys = [...(cache as unknown as { entries: Map<string, number> }).entries.keys()];
    expect(keys.join()).not.toContain('hunter2');
    expect(keys.join()).not.toContain('c2FsdA');
  });

  it('keys differ between processes (a random key per instance)', () => {
    const a = new VerifiedPasswords();
    const b = new VerifiedPasswords();
    a.remember('right', stored);
    b.remember('right', stored);
    const keyOf = (c: VerifiedPasswords) => [...(c as unknown as { entries: Map<string, number> }).entries.keys()][0];
    expect(keyOf(a)).not.toBe(keyOf(b));
  });
});
