import { createHash } from 'node:crypto';
import { endpointMac } from '@muelle/contracts';
import { desiredEntries, diffEntries, parseFdb, parseNeighbours } from './overlay-plan';
import { overlayIptablesRules, overlayNftRules } from './overlay-firewall';

const NET = 'a'.repeat(64);
const c1 = '1'.repeat(64);
const c2 = '2'.repeat(64);
const c3 = '3'.repeat(64);

describe('endpointMac', () => {
  it('is the same on every host, differs per network, and keeps the default bridge MAC of older agents', () => {
    expect(endpointMac(c1, NET)).toBe(endpointMac(c1, NET));
    expect(endpointMac(c1, NET)).not.toBe(endpointMac(c1, 'b'.repeat(64)));
    expect(endpointMac(c1, NET)).toMatch(/^02:42(:[0-9a-f]{2}){4}$/);
    // Without a network: 02:42 and the first 4 bytes of sha256(container id), as the default bridge always had.
    const h = createHash('sha256').update(c1).digest('hex');
    expect(endpointMac(c1)).toBe(`02:42:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}`);
    expect(endpointMac(c1)).not.toBe(endpointMac(c1, NET));
  });
});

describe('overlay plan', () => {
  const peers = [
    { containerId: c1, hostId: 'host-b', underlayAddress: '10.0.0.12', address: '10.90.0.3' },
    { containerId: c2, hostId: 'host-c', underlayAddress: '10.0.0.13', address: '10.90.0.4' },
  ];

  it('computes one FDB entry (MAC → remote host) and one neighbour entry (address → MAC) per remote container', () => {
    const desired = desiredEntries(NET, peers);
    expect(desired.fdb).toEqual(
      [
        { mac: endpointMac(c1, NET), remote: '10.0.0.12' },
        { mac: endpointMac(c2, NET), remote: '10.0.0.13' },
      ].sort((a, b) => (a.mac < b.mac ? -1 : 1)),
    );
    expect(desired.neighbours).toEqual([
      { ip: '10.90.0.3', mac: endpointMac(c1, NET) },
      { ip: '10.90.0.4', mac: endpointMac(c2, NET) },
    ]);
    expect(desiredEntries(NET, [])).toEqual({ fdb: [], neighbours: [] });
  });

  it('changes only what differs: adds new, replaces moved, deletes gone, leaves the rest', () => {
    const before = desiredEntries(NET, peers);
    expect(diffEntries(before, before)).toEqual({ fdbSet: [], fdbDelete: [], neighbourSet: [], neighbourDelete: [] });
    // c2 moved to host-d (same address), c1 stopped, c3 started on host-b.
    const after = desiredEntries(NET, [
      { ...peers[1]!, hostId: 'host-d', underlayAddress: '10.0.0.14' },
      { containerId: c3, hostId: 'host-b', underlayAddress: '10.0.0.12', address: '10.90.0.5' },
    ]);
    const changes = diffEntries(after, before);
    expect(changes.fdbDelete).toEqual([{ mac: endpointMac(c1, NET), remote: '10.0.0.12' }]);
    expect(changes.fdbSet).toEqual(
      expect.arrayContaining([
        { mac: endpointMac(c2, NET), remote: '10.0.0.14' },
        { mac: endpointMac(c3, NET), remote: '10.0.0.12' },
      ]),
    );
    expect(changes.fdbSet).toHaveLength(2);
    expect(changes.neighbourDelete).toEqual([{ ip: '10.90.0.3', mac: endpointMac(c1, NET) }]);
    expect(changes.neighbourSet).toEqual([{ ip: '10.90.0.5', mac: endpointMac(c3, NET) }]);
  });

  it('reads the kernel entries: only the device’s own FDB entries with a destination, neighbours with a MAC', () => {
    const fdb = [
      '02:42:aa:bb:cc:dd dst 10.0.0.12 self permanent',
      '00:00:00:00:00:00 dst 10.0.0.99 self permanent',
      '02:42:11:22:33:44 master mn0123456789 ',
      '6a:1c:5e:00:00:01 vlan 1 master mn0123456789 permanent',
      '',
    ].join('\n');
    expect(parseFdb(fdb)).toEqual([
      { mac: '02:42:aa:bb:cc:dd', remote: '10.0.0.12' },
      { mac: '00:00:00:00:00:00', remote: '10.0.0.99' },
    ]);
    expect(parseNeighbours('10.90.0.3 lladdr 02:42:AA:BB:CC:DD PERMANENT\n10.90.0.9  FAILED\n\n')).toEqual([{ ip: '10.90.0.3', mac: '02:42:aa:bb:cc:dd' }]);
    // The stray all-zeros (flood) entry is removed: no broadcast crosses hosts.
    expect(diffEntries({ fdb: [], neighbours: [] }, { fdb: parseFdb(fdb), neighbours: [] }).fdbDelete).toHaveLength(2);
  });
});

describe('VXLAN port firewall', () => {
  it('accepts VXLAN only from registered hosts, drops everyone else (and everything with no host registered)', () => {
    expect(overlayNftRules(4789, ['10.0.0.12', '10.0.0.13'])).toContain('    udp dport 4789 ip saddr != { 10.0.0.12, 10.0.0.13 } drop\n');
    expect(overlayNftRules(4789, [])).toContain('    udp dport 4789 drop\n');
    expect(overlayIptablesRules(8472, ['10.0.0.12']).split('\n')).toEqual([
      '*filter',
      ':MUELLE-OVERLAY-IN - [0:0]',
      '-F MUELLE-OVERLAY-IN',
      '-A MUELLE-OVERLAY-IN -s 10.0.0.12/32 -p udp -m udp --dport 8472 -j RETURN',
      '-A MUELLE-OVERLAY-IN -p udp -m udp --dport 8472 -j DROP',
      'COMMIT',
      '',
    ]);
  });

  it('refuses anything but addresses and a port', () => {
    expect(() => overlayNftRules(4789, ['10.0.0.1; flush ruleset'])).toThrow(/refusing address/);
    expect(() => overlayNftRules(0, [])).toThrow(/refusing port/);
  });
});
