import { liveHostInterface, nextInterfaceName } from './live-endpoint';

describe('nextInterfaceName', () => {
  it('numbers networks eth0, eth1… in order, and reuses the lowest free number after a disconnect', () => {
    expect(nextInterfaceName(['lo'])).toBe('eth0');
    expect(nextInterfaceName(['lo', 'eth0'])).toBe('eth1');
    expect(nextInterfaceName(['lo', 'eth0', 'eth1', 'eth2'])).toBe('eth3');
    expect(nextInterfaceName(['lo', 'eth0', 'eth2'])).toBe('eth1');
    expect(nextInterfaceName(['lo', 'ethx', 'eth01'])).toBe('eth0');
  });
});

describe('liveHostInterface', () => {
  const c = '1'.repeat(64);
  it('is a valid interface name, the same for the same pair, distinct per network and from the first network’s mv… end', () => {
    const name = liveHostInterface(c, 'a'.repeat(64));
    expect(name).toMatch(/^me[0-9a-f]{10}$/);
    expect(name.length).toBeLessThanOrEqual(15);
    expect(liveHostInterface(c, 'a'.repeat(64))).toBe(name);
    expect(liveHostInterface(c, 'b'.repeat(64))).not.toBe(name);
  });
});
