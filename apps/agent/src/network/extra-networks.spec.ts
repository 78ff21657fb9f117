import type { NetworkEndpoint } from '@muelle/contracts';
import { endpointAddress, interfacePlan, networkMembers } from './extra-networks';
import { liveHostInterface } from './live-endpoint';

const endpoint = (name: string, address?: string): NetworkEndpoint => ({ id: `${name}-id`, name, ...(address ? { address } : {}) }) as NetworkEndpoint;

describe("a container's several networks", () => {
  it('numbers the interfaces eth0, eth1… in the order the networks were given', () => {
    const plan = interfacePlan([endpoint('front'), endpoint('back'), endpoint('db')]);
    expect(plan.map((p) => `${p.endpoint.name}:${p.ifName}`)).toEqual(['front:eth0', 'back:eth1', 'db:eth2']);
  });

  it("gives each network's rules the container's address on that network after an agent restart", () => {
    const members = networkMembers('c1', '10.90.0.2', [endpoint('front', '10.90.0.2'), endpoint('back', '10.90.1.7')]);
    expect(members.map((m) => `${m.endpoint.name}=${m.ipAddress}`)).toEqual(['front=10.90.0.2', 'back=10.90.1.7']);
    // The rules of a later network name its own veth end (me<hash>), the first's the helper's (mv<id>, the default).
    expect(members.map((m) => m.hostInterface)).toEqual([undefined, liveHostInterface('c1', 'back-id')]);
    // A record from before per-endpoint addresses: the first network's is the record's own.
    expect(networkMembers('c1', '10.90.0.2', [endpoint('front'), endpoint('back')]).map((m) => m.ipAddress)).toEqual(['10.90.0.2']);
  });

  it('refuses an endpoint metadata gave no address', () => {
    expect(() => endpointAddress(endpoint('back'))).toThrow('network back: no address was recorded');
  });
});
