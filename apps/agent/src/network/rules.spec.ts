import { groupAddresses, iptablesJumps, iptablesRestore, NetworkRuleModel, nftRuleset, nftTeardown, sameGroupPairs, tableName } from './rules';

const model: NetworkRuleModel = {
  bridge: 'muelle0',
  subnet: '10.89.0.0/24',
  members: [
    { hostInterface: 'mva', ipAddress: '10.89.0.2', group: 'team:a' },
    { hostInterface: 'mvb', ipAddress: '10.89.0.3', group: 'team:a' },
    { hostInterface: 'mvc', ipAddress: '10.89.0.4', group: 'team:b' },
  ],
  published: [
    { hostIp: '0.0.0.0', hostPort: 8080, protocol: 'tcp', targetIp: '10.89.0.2', targetPort: 80 },
    { hostIp: '127.0.0.1', hostPort: 5353, protocol: 'udp', targetIp: '10.89.0.4', targetPort: 53 },
  ],
};

describe('network rules', () => {
  it('pairs only containers of one group, both directions, never a container with itself', () => {
    expect(sameGroupPairs(model.members)).toEqual([
      ['10.89.0.2', '10.89.0.3'],
      ['10.89.0.3', '10.89.0.2'],
    ]);
  });

  it('groups addresses in a stable order, whatever the order of the containers', () => {
    expect(groupAddresses(model.members)).toEqual([['10.89.0.2', '10.89.0.3'], ['10.89.0.4']]);
    expect(groupAddresses([...model.members].reverse())).toEqual([['10.89.0.3', '10.89.0.2'], ['10.89.0.4']]);
  });

  it("overlay: other hosts' containers of the network join its group, and the VXLAN port carries only them", () => {
    const overlay: NetworkRuleModel = { ...model, members: [model.members[0]!], remote: [{ ipAddress: '10.89.0.9', group: 'team:a' }], overlayInterface: 'mxabc' };
    const nft = nftRuleset(overlay);
    expect(nft).toContain('set group_0 { type ipv4_addr; elements = { 10.89.0.2, 10.89.0.9 }; }');
    expect(nft).toContain('set remote { type ipv4_addr; elements = { 10.89.0.9 }; }');
    expect(nft).toContain('    iifname "mxabc" ether type ip ip saddr != @remote drop\n');
    // The remote address is no local port's: its frames are not checked against port_addr.
    expect(nft).toContain('set port_addr { type ifname . ipv4_addr; elements = { "mva" . 10.89.0.2 }; }');
    expect(iptablesRestore(overlay).filter).toContain('-A MUELLE-muelle0-FWD -i muelle0 -o muelle0 -s 10.89.0.9 -d 10.89.0.2 -j ACCEPT');
    expect(nftRuleset(model)).not.toContain('@remote drop');
    expect(() => nftRuleset({ ...overlay, overlayInterface: 'mx; flush' })).toThrow(/refusing interface name/);
  });

  it('nftables: replaces both of its tables in one script and closes the host, link-local and other teams', () => {
    const text = nftRuleset(model);
    const lines = text.split('\n').map((l) => l.trim());
    // Stale tables of a previous run go first, in the same transaction.
    expect(lines.slice(0, 4)).toEqual(['table inet muelle_muelle0 {}', 'delete table inet muelle_muelle0', 'table bridge muelle_muelle0 {}', 'delete table bridge muelle_muelle0']);
    expect(lines).toContain('iifname "muelle0" ct state established,related accept');
    expect(lines).toContain('iifname "muelle0" drop');
    expect(lines).toContain('iifname "muelle0" ip daddr 169.254.0.0/16 drop');
    expect(lines).toContain('ip saddr 10.89.0.0/24 oifname != "muelle0" masquerade');
    // One set per team (in both tables), never named after the team.
    expect(lines.filter((l) => l === 'set group_0 { type ipv4_addr; elements = { 10.89.0.2, 10.89.0.3 }; }')).toHaveLength(2);
    expect(lines.filter((l) => l === 'set group_1 { type ipv4_addr; elements = { 10.89.0.4 }; }')).toHaveLength(2);
    expect(text).not.toContain('team:');
    expect(text).toContain('elements = { "mva" . 10.89.0.2, "mvb" . 10.89.0.3, "mvc" . 10.89.0.4 }');
    // The established exception comes before the drop; the same-group accepts before the container-to-container drops.
    expect(lines.indexOf('iifname "muelle0" ct state established,related accept')).toBeLessThan(lines.indexOf('iifname "muelle0" drop'));
    const routedAccept = lines.indexOf('iifname "muelle0" oifname "muelle0" ip saddr @group_1 ip daddr @group_1 accept');
    expect(routedAccept).toBeGreaterThan(lines.indexOf('iifname "muelle0" oifname "muelle0" ip saddr @group_0 ip daddr @group_0 accept'));
    expect(routedAccept).toBeLessThan(lines.indexOf('iifname "muelle0" oifname "muelle0" drop'));
    const bridgeAccept = lines.indexOf('iifname @ports oifname @ports ether type ip ip saddr @group_0 ip daddr @group_0 accept');
    expect(bridgeAccept).toBeGreaterThan(lines.indexOf('iifname @ports ether type ip iifname . ip saddr != @port_addr drop'));
    expect(bridgeAccept).toBeLessThan(lines.indexOf('iifname @ports oifname @ports drop'));
  });

  it('nftables: published ports are DNAT for outside clients (prerouting) and the host itself (output); loopback clients are masqueraded', () => {
    const lines = nftRuleset(model).split('\n').map((l) => l.trim());
    const anyAddress = 'fib daddr type local tcp dport 8080 dnat ip to 10.89.0.2:80';
    const loopbackOnly = 'ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.89.0.4:53';
    for (const rule of [anyAddress, loopbackOnly]) expect(lines.filter((l) => l === rule)).toHaveLength(2);
    const prerouting = lines.indexOf('type nat hook prerouting priority dstnat; policy accept;');
    const output = lines.indexOf('type nat hook output priority -100; policy accept;');
    expect(lines.indexOf(anyAddress)).toBeGreaterThan(prerouting);
    expect(lines.lastIndexOf(anyAddress)).toBeGreaterThan(output);
    // Containers knocking on their host's address are not forwarded (the input chain drops them).
    expect(lines[prerouting + 1]).toBe('iifname "muelle0" return');
    expect(lines).toContain('ip saddr 127.0.0.0/8 oifname "muelle0" masquerade');
    // Only loopback sources are rewritten: any other client keeps its address.
    expect(lines.filter((l) => l.endsWith('masquerade'))).toHaveLength(2);
  });

  it('nftables: no containers gives no group and empty sets, still closing the host and the bridge', () => {
    const text = nftRuleset({ ...model, members: [], published: [] });
    expect(text).not.toContain('dnat ip to');
    expect(text).not.toContain('group_');
    expect(text).toContain('set ports { type ifname; }');
    expect(text).toContain('iifname "muelle0" drop');
    expect(text).toContain('iifname "muelle0" oifname "muelle0" drop');
  });

  it('lets into a bridge from elsewhere only replies and published ports; an internal network has no way out', () => {
    for (const internal of [false, true]) {
      const nft = nftRuleset({ ...model, internal }).split('\n').map((l) => l.trim());
      const inbound = ['iifname != "muelle0" oifname "muelle0" ct state established,related accept', 'iifname != "muelle0" oifname "muelle0" ct status dnat accept', 'iifname != "muelle0" oifname "muelle0" drop'];
      expect(nft.filter((l) => l.startsWith('iifname != "muelle0"'))).toEqual(inbound);
      expect(nft.includes('iifname "muelle0" oifname != "muelle0" drop')).toBe(internal);
      expect(nft.includes('ip saddr 10.89.0.0/24 oifname != "muelle0" masquerade')).toBe(!internal);
      const { filter, nat } = iptablesRestore({ ...model, internal });
      expect(filter).toContain('-A MUELLE-muelle0-FWD ! -i muelle0 -o muelle0 -m conntrack --ctstate DNAT -j RETURN\n-A MUELLE-muelle0-FWD ! -i muelle0 -o muelle0 -j DROP');
      expect(filter.includes('-A MUELLE-muelle0-FWD -i muelle0 ! -o muelle0 -j DROP')).toBe(internal);
      expect(nat.includes('-s 10.89.0.0/24 ! -o muelle0 -j MASQUERADE')).toBe(!internal);
    }
  });

  it('opens only port 53 of the gateway to the network’s containers when the network has a resolver, before the host is closed', () => {
    const nft = nftRuleset({ ...model, resolver: '10.89.0.1' }).split('\n').map((l) => l.trim());
    const drop = nft.indexOf('iifname "muelle0" drop');
    for (const p of ['udp', 'tcp']) {
      const accept = nft.indexOf(`iifname "muelle0" ip daddr 10.89.0.1 ${p} dport 53 accept`);
      expect(accept).toBeGreaterThan(-1);
      expect(accept).toBeLessThan(drop);
    }
    expect(nftRuleset(model)).not.toMatch(/daddr \S+ (udp|tcp) dport 53 accept/);
    const { filter } = iptablesRestore({ ...model, resolver: '10.89.0.1' });
    expect(filter).toContain('-A MUELLE-muelle0-IN -i muelle0 -d 10.89.0.1 -p udp -m udp --dport 53 -j RETURN');
    expect(filter.indexOf('--dport 53')).toBeLessThan(filter.indexOf('-A MUELLE-muelle0-IN -i muelle0 -j DROP'));
    expect(() => nftRuleset({ ...model, resolver: '10.89.0.1; drop' })).toThrow(/resolver address/);
  });

  it('teardown deletes only our tables', () => {
    expect(nftTeardown('muelle0')).toBe('table inet muelle_muelle0 {}\ndelete table inet muelle_muelle0\ntable bridge muelle_muelle0 {}\ndelete table bridge muelle_muelle0\n');
    expect(tableName('m-test.0')).toBe('muelle_m_test_0');
  });

  it('iptables: own chains flushed and refilled, pair accepts before the drop, anti-spoofing per port', () => {
    const { filter, nat } = iptablesRestore(model);
    const lines = filter.split('\n');
    expect(lines.slice(0, 5)).toEqual(['*filter', ':MUELLE-muelle0-IN - [0:0]', ':MUELLE-muelle0-FWD - [0:0]', '-F MUELLE-muelle0-IN', '-F MUELLE-muelle0-FWD']);
    expect(lines).toContain('-A MUELLE-muelle0-IN -i muelle0 -j DROP');
    expect(lines).toContain('-A MUELLE-muelle0-FWD -i muelle0 -d 169.254.0.0/16 -j DROP');
    expect(lines).toContain('-A MUELLE-muelle0-FWD -i muelle0 -o muelle0 -m physdev --physdev-in mvc ! -s 10.89.0.4 -j DROP');
    expect(lines).toContain('-A MUELLE-muelle0-FWD -i muelle0 -o muelle0 -s 10.89.0.2 -d 10.89.0.3 -j ACCEPT');
    expect(lines.filter((l) => l.includes('10.89.0.4') && l.endsWith('ACCEPT'))).toEqual([]);
    expect(lines.indexOf('-A MUELLE-muelle0-FWD -i muelle0 -o muelle0 -j DROP')).toBe(lines.length - 3);
    expect(nat).toContain('-A MUELLE-muelle0-NAT -s 10.89.0.0/24 ! -o muelle0 -j MASQUERADE');
    expect(nat).toContain('-A MUELLE-muelle0-NAT -s 127.0.0.0/8 -o muelle0 -j MASQUERADE');
    expect(nat).toContain('-A MUELLE-muelle0-PUB ! -i muelle0 -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.89.0.2:80');
    expect(nat).toContain('-A MUELLE-muelle0-PUB ! -i muelle0 -d 127.0.0.1 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.89.0.4:53');
    expect(iptablesJumps('muelle0')).toEqual([
      ['filter', 'INPUT', 'MUELLE-muelle0-IN'],
      ['filter', 'FORWARD', 'MUELLE-muelle0-FWD'],
      ['nat', 'POSTROUTING', 'MUELLE-muelle0-NAT'],
      ['nat', 'PREROUTING', 'MUELLE-muelle0-PUB'],
      ['nat', 'OUTPUT', 'MUELLE-muelle0-PUB'],
    ]);
  });

  it.each([
    ['a bridge name with spaces', { bridge: 'br 0' }],
    ['a bridge name with quotes', { bridge: 'br";drop' }],
    ['a bad subnet', { subnet: '10.89.0.0/24; flush ruleset' }],
    ['a bad interface', { members: [{ hostInterface: 'mv"x', ipAddress: '10.89.0.2', group: 'a' }] }],
    ['a bad address', { members: [{ hostInterface: 'mva', ipAddress: '10.89.0.300', group: 'a' }] }],
    ['an IPv6 host address', { published: [{ hostIp: '::', hostPort: 80, protocol: 'tcp' as const, targetIp: '10.89.0.2', targetPort: 80 }] }],
    ['a port out of range', { published: [{ hostIp: '0.0.0.0', hostPort: 70000, protocol: 'tcp' as const, targetIp: '10.89.0.2', targetPort: 80 }] }],
    ['an unknown protocol', { published: [{ hostIp: '0.0.0.0', hostPort: 80, protocol: 'sctp' as 'tcp', targetIp: '10.89.0.2', targetPort: 80 }] }],
  ])('refuses %s (no text from outside reaches a rule)', (_what, change) => {
    expect(() => nftRuleset({ ...model, ...change })).toThrow(/network rules: refusing/);
    expect(() => iptablesRestore({ ...model, ...change })).toThrow(/network rules: refusing/);
  });
});
