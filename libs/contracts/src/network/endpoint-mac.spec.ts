import { endpointMac } from './endpoint-mac';

describe('endpoint MAC addresses', () => {
  const container = 'c'.repeat(64);
  it('are locally administered unicast, stable, and differ per network of one container', () => {
    const a = endpointMac(container, 'a'.repeat(64));
    expect(a).toMatch(/^02:42(:[0-9a-f]{2}){4}$/);
    expect(endpointMac(container, 'a'.repeat(64))).toBe(a);
    expect(endpointMac(container, 'b'.repeat(64))).not.toBe(a);
    expect(endpointMac(container)).not.toBe(a);
  });

  it('keep the default bridge’s container-only MAC (sha256 of the id)', () => {
    expect(endpointMac('abc')).toBe('02:42:ba:78:16:bf');
  });
});
