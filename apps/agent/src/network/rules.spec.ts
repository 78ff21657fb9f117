import { groupAddresses, iptablesJumps, iptablesRestore, NetworkRuleModel, nftRuleset, nftTeardown, sameGroupPairs, tableName } from './rules';

const model: NetworkRuleModel = {
  bridge: 'muelle0',
  subnet: '10.89.0.0/24',
  members: [
    { hostInterface: 'mva', ipAddress: '10.89.0.2', group: 'team:a' },
    { hostInterface: 'mvb', ipAddress: '10.89.0.3', group: 'team:a' },
    { hostInterface: 'mvc', ipAddress: '10.89.0.4', group: 'team:b' },
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

  it('nftables: no containers gives no group and empty sets, still closing the host and the bridge', () => {
    const text = nftRuleset({ ...model, members: [] });
    expect(text).not.toContain('group_');
    expect(text).toContain('set ports { type ifname; }');
    expect(text).toContain('iifname "muelle0" drop');
    expect(text).toContain('iifname "muelle0" oifname "muelle0" drop');
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
    expect(iptablesJumps('muelle0')).toEqual([
      ['filter', 'INPUT', 'MUELLE-muelle0-IN'],
      ['filter', 'FORWARD', 'MUELLE-muelle0-FWD'],
      ['nat', 'POSTROUTING', 'MUELLE-muelle0-NAT'],
    ]);
  });

  it.each([
    ['a bridge name with spaces', { bridge: 'br 0' }],
    ['a bridge name with quotes', { bridge: 'br";drop' }],
    ['a bad subnet', { subnet: '10.89.0.0/24; flush ruleset' }],
    ['a bad interface', { members: [{ hostInterface: 'mv"x', ipAddress: '10.89.0.2', group: 'a' }] }],
    ['a bad address', { members: [{ hostInterface: 'mva', ipAddress: '10.89.0.300', group: 'a' }] }],
  ])('refuses %s (no text from outside reaches a rule)', (_what, change) => {
    expect(() => nftRuleset({ ...model, ...change })).toThrow(/network rules: refusing/);
    expect(() => iptablesRestore({ ...model, ...change })).toThrow(/network rules: refusing/);
  });
});
