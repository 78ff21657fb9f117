import { CredentialCache } from './credential-cache';

interface Who {
  userId: string;
  tokenId?: string;
}

describe('CredentialCache', () => {
  const make = () => new CredentialCache<Who>(10_000, 100, (w) => ({ userId: w.userId, tokenId: w.tokenId }));

  it('verifies a credential once while it is cached, and shares one check between concurrent callers', async () => {
    const cache = make();
    const verify = jest.fn(async () => ({ userId: 'u1' }));
    await Promise.all([cache.get(['basic', 'ann', 'pw'], verify), cache.get(['basic', 'ann', 'pw'], verify)]);
    await cache.get(['basic', 'ann', 'pw'], verify);
    expect(verify).toHaveBeenCalledTimes(1);
    await cache.get(['basic', 'ann', 'other'], verify);
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('does not remember failures', async () => {
    const cache = make();
    const verify = jest.fn().mockRejectedValueOnce(new Error('wrong')).mockResolvedValue({ userId: 'u1' });
    await expect(cache.get(['t'], verify)).rejects.toThrow('wrong');
    await expect(cache.get(['t'], verify)).resolves.toEqual({ userId: 'u1' });
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it("forgets a user's credentials, or one token's, at once", async () => {
    const cache = make();
    await cache.get(['basic', 'ann', 'pw'], async () => ({ userId: 'u1' }));
    await cache.get(['bearer', 'mle_a'], async () => ({ userId: 'u1', tokenId: 't1' }));
    await cache.get(['bearer', 'mle_b'], async () => ({ userId: 'u2', tokenId: 't2' }));
    expect(cache.forget({ tokenId: 't2' })).toBe(1);
    expect(cache.forget({ userId: 'u1' })).toBe(2);
    expect(cache.size).toBe(0);
    const verify = jest.fn(async () => ({ userId: 'u1' }));
    await cache.get(['basic', 'ann', 'pw'], verify);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('expires entries after its lifetime', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const cache = make();
      const verify = jest.fn(async () => ({ userId: 'u1' }));
      await cache.get(['x'], verify);
      jest.setSystemTime(1_000_000 + 10_001);
      await cache.get(['x'], verify);
      expect(verify).toHaveBeenCalledTimes(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('keys entries by an HMAC, never by the credential itself', async () => {
    const cache = make();
    await cache.get(['basic', 'ann', 'hunter2-secret'], async () => ({ userId: 'u1' }));
    const keys = [...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()];
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain('hunter2');
    expect(keys[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('CredentialCache with expiring credentials', () => {
  it('keeps an expiring token no longer than its expiry', async () => {
    jest.useFakeTimers({ now: 2_000_000 });
    try {
      const cache = new CredentialCache<{ expiresAt: number }>(10_000, 100, (v) => ({ expiresAt: v.expiresAt }));
      const verify = jest.fn(async () => ({ expiresAt: 2_000_000 + 2_000 }));
      await cache.get(['t'], verify);
      jest.setSystemTime(2_000_000 + 1_000);
      await cache.get(['t'], verify);
      expect(verify).toHaveBeenCalledTimes(1);
      jest.setSystemTime(2_000_000 + 2_001);
      await cache.get(['t'], verify);
      expect(verify).toHaveBeenCalledTimes(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
