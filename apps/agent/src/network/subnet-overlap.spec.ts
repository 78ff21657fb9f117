import { findSubnetOverlap, HostNetworkEntry } from './subnet-overlap';

const host: HostNetworkEntry[] = [
  { cidr: '192.0.2.0/24', dev: 'eth0', kind: 'route' },
  { cidr: '192.0.2.2/24', dev: 'eth0', kind: 'address' },
  { cidr: '10.89.0.0/24', dev: 'muelle0', kind: 'route' },
  { cidr: '172.17.0.0/16', dev: 'docker0', kind: 'route' },
  { cidr: '10.200.5.7/32', dev: 'wg0', kind: 'route' },
];

describe('bridge subnet overlap', () => {
  it('finds a route or address of another interface inside, around or across the subnet', () => {
    expect(findSubnetOverlap('172.17.3.0/24', 'muelle0', host)).toMatchObject({ cidr: '172.17.0.0/16', dev: 'docker0' });
    expect(findSubnetOverlap('172.16.0.0/12', 'muelle0', host)).toMatchObject({ dev: 'docker0' });
    expect(findSubnetOverlap('10.200.0.0/16', 'muelle0', host)).toMatchObject({ cidr: '10.200.5.7/32', dev: 'wg0' });
    expect(findSubnetOverlap('192.0.2.128/25', 'muelle0', host)).toMatchObject({ dev: 'eth0' });
  });

  it('ignores our own bridge and subnets that only touch the edges', () => {
    expect(findSubnetOverlap('10.89.0.0/24', 'muelle0', host)).toBeUndefined();
    expect(findSubnetOverlap('172.18.0.0/16', 'muelle0', host)).toBeUndefined();
    expect(findSubnetOverlap('192.0.3.0/24', 'muelle0', host)).toBeUndefined();
  });
});
