import { leftoverNetworks, parseLinkNames } from './network-leftovers';

const live = 'a1b2c3d4e5'.padEnd(64, '0');
const gone = 'ffee001122'.padEnd(64, '0');

describe('leftoverNetworks', () => {
  it('groups the bridge and VXLAN device of every network metadata no longer records', () => {
    const devices = ['lo', 'eth0', 'muelle0', `mn${gone.slice(0, 10)}`, `mx${gone.slice(0, 10)}`, `mn${live.slice(0, 10)}`, `mx${live.slice(0, 10)}`];
    expect(leftoverNetworks(devices, [live])).toEqual([{ prefix: 'ffee001122', bridge: 'mnffee001122', vxlan: 'mxffee001122' }]);
  });

  it('keeps every device of a live network and reports a lone VXLAN device or bridge on its own', () => {
    expect(leftoverNetworks([`mn${live.slice(0, 10)}`, `mx${live.slice(0, 10)}`], [live])).toEqual([]);
    expect(leftoverNetworks(['mx0000000001', 'mn0000000002'], [])).toEqual([
      { prefix: '0000000001', vxlan: 'mx0000000001' },
      { prefix: '0000000002', bridge: 'mn0000000002' },
    ]);
  });

  it('leaves alone names that only look alike (other prefixes, lengths, upper case, veths)', () => {
    expect(leftoverNetworks(['mnffee00112', 'mnffee0011223', 'mnFFEE001122', 'mvffee001122', 'vethmnffee001122'], [])).toEqual([]);
  });
});

describe('parseLinkNames', () => {
  it('reads device names from `ip -o link show`, a veth without its peer', () => {
    const text = [
      '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
      '7: mnffee001122: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 02:42:00:00:00:01 brd ff:ff:ff:ff:ff:ff',
      '9: vmabc@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master mnffee001122 state UP mode DEFAULT group default qlen 1000\\    link/ether 02:42:00:00:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0',
      '',
    ].join('\n');
    expect(parseLinkNames(text)).toEqual(['lo', 'mnffee001122', 'vmabc']);
  });
});
