import { TooManyRequestsError } from '@muelle/contracts';
import { normalizeAddress } from './login-throttle';
import { hashPassword, hashSlots, MAX_CONCURRENT_HASHES, MAX_WAITING_HASHES, needsRehash, verifyPassword } from './password';

describe('password hashing', () => {
  it("hashes with OWASP's scrypt parameters and verifies", async () => {
    const stored = await hashPassword('correct horse');
    expect(stored.split('$').slice(0, 4)).toEqual(['scrypt', '131072', '8', '1']);
    expect(needsRehash(stored)).toBe(false);
    await expect(verifyPassword('correct horse', stored)).resolves.toBe(true);
    await expect(verifyPassword('wrong horse', stored)).resolves.toBe(false);
    expect(needsRehash('scrypt$32768$8$1$AAAA$AAAA')).toBe(true);
    await expect(verifyPassword('x', 'scrypt$3$8$1$AAAA$AAAA')).resolves.toBe(false);
  }, 20_000);

  it('runs at most a few hashes at once, queues a few more, and refuses beyond that', async () => {
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const work = () =>
      hashSlots.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => releases.push(r));
        running--;
      });
    const accepted = Array.from({ length: MAX_CONCURRENT_HASHES + MAX_WAITING_HASHES }, work);
    await expect(work()).rejects.toThrow(TooManyRequestsError);
    while (releases.length || running) {
      releases.splice(0).forEach((r) => r());
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(accepted);
    expect(peak).toBe(MAX_CONCURRENT_HASHES);
    expect(hashSlots.active).toBe(0);
  });
});

describe('normalizeAddress', () => {
  it('counts IPv4-mapped addresses as IPv4 and IPv6 by /64', () => {
    expect(normalizeAddress('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(normalizeAddress('10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(normalizeAddress('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(normalizeAddress('::1')).toBe('0:0:0:0::/64');
    expect(normalizeAddress(undefined)).toBe('unknown');
  });
});
