import { checkMesh, meshIptablesJumps, meshIptablesRules, meshNftRules, MeshService, MeshTask, planMesh, taskServes } from './mesh-plan';

const task = (over: Partial<MeshTask>): MeshTask => ({
  hostId: 'host-a',
  state: 'running',
  health: null,
  hasHealthcheck: false,
  ipAddress: '10.89.1.2',
  backendPorts: { '80/tcp': 30080 },
  ...over,
});
const underlay = new Map([
  ['host-a', '192.0.2.1'],
  ['host-b', '192.0.2.2'],
  ['host-c', '192.0.2.3'],
]);
const web = (tasks: MeshTask[]): MeshService => ({ ports: [{ publishedPort: 8080, targetPort: 80, protocol: 'tcp' }], tasks });

describe('mesh plan', () => {
  it('balances a port over every healthy replica: local ones by container address, remote ones by underlay address and backend port', () => {
    const tasks = [task({ hostId: 'host-b', ipAddress: '10.89.2.2', backendPorts: { '80/tcp': 31000 } }), task({}), task({ hostId: 'host-c', ipAddress: '10.89.3.2', backendPorts: { '80/tcp': 32000 } })];
    expect(planMesh('host-a', [web(tasks)], underlay)).toEqual([
      {
        publishedPort: 8080,
        protocol: 'tcp',
        backends: [
          { address: '10.89.1.2', port: 80 },
          { address: '192.0.2.2', port: 31000 },
          { address: '192.0.2.3', port: 32000 },
        ],
      },
    ]);
  });

  it('a host that runs no replica still forwards the port to the others', () => {
    const rules = planMesh('host-c', [web([task({ hostId: 'host-a' }), task({ hostId: 'host-b', backendPorts: { '80/tcp': 31000 } })])], underlay);
    expect(rules[0]?.backends).toEqual([
      { address: '192.0.2.1', port: 30080 },
      { address: '192.0.2.2', port: 31000 },
    ]);
  });

  it('leaves out replicas that are stopped, unhealthy, still starting, on an unknown host or without a backend port', () => {
    expect(taskServes(task({ state: 'exited' }))).toBe(false);
    expect(taskServes(task({ health: 'unhealthy' }))).toBe(false);
    expect(taskServes(task({ hasHealthcheck: true, health: 'starting' }))).toBe(false);
    expect(taskServes(task({ hasHealthcheck: true, health: null }))).toBe(false);
    expect(taskServes(task({ hasHealthcheck: true, health: 'healthy' }))).toBe(true);
    expect(taskServes(task({ hostId: null }))).toBe(false);
    const tasks = [task({ state: 'exited' }), task({ hostId: 'host-d' }), task({ hostId: 'host-b', backendPorts: {} }), task({ hostId: 'host-b', health: 'unhealthy' })];
    expect(planMesh('host-a', [web(tasks)], underlay)).toEqual([{ publishedPort: 8080, protocol: 'tcp', backends: [] }]);
  });

  it('gives the same rules for the same record in any order', () => {
    const a = task({ hostId: 'host-b', backendPorts: { '80/tcp': 31000 } });
    const b = task({ hostId: 'host-c', backendPorts: { '80/tcp': 32000 } });
    expect(meshNftRules(planMesh('host-a', [web([a, b])], underlay))).toBe(meshNftRules(planMesh('host-a', [web([b, a])], underlay)));
  });
});

describe('mesh rules', () => {
  const rules = [
    { publishedPort: 8080, protocol: 'tcp' as const, backends: [{ address: '10.89.1.2', port: 80 }, { address: '192.0.2.2', port: 31000 }] },
    { publishedPort: 5353, protocol: 'udp' as const, backends: [] },
  ];

  it('nftables: one numgen map per port with replicas, in prerouting and output, and masquerade of marked flows', () => {
    const text = meshNftRules(rules);
    const dnat = 'fib daddr type local tcp dport 8080 ct mark set 0x4d455348 dnat ip to numgen random mod 2 map { 0 : 10.89.1.2 . 80, 1 : 192.0.2.2 . 31000 }';
    expect(text.split('\n').filter((l) => l.trim() === dnat)).toHaveLength(2);
    expect(text).not.toContain('5353');
    expect(text).toContain('ct mark 0x4d455348 masquerade');
    expect(text.startsWith('table ip muelle_mesh {}\ndelete table ip muelle_mesh\n')).toBe(true);
  });

  it('iptables: probabilities 1/N, 1/(N-1)… so flows spread evenly, the last replica unconditional', () => {
    const text = meshIptablesRules(rules);
    expect(text).toContain('-A MUELLE-MESH-PRE -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 8080 -m statistic --mode random --probability 0.50000000 -j CONNMARK --set-mark 0x4d455348');
    expect(text).toContain('-A MUELLE-MESH-PRE -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 8080 -j CONNMARK --set-mark 0x4d455348');
    expect(text).toContain('-m connmark --mark 0x4d455348 -j DNAT --to-destination 192.0.2.2:31000');
    expect(text).toContain('-A MUELLE-MESH-POST -m connmark --mark 0x4d455348 -j MASQUERADE');
  });

  it('both backends drop what route_localnet would let in: 127.0.0.0/8 arriving on any device but lo, before conntrack', () => {
    expect(meshNftRules([])).toContain('    type filter hook prerouting priority raw; policy accept;\n    iifname != "lo" ip daddr 127.0.0.0/8 drop\n');
    expect(meshIptablesRules([])).toContain('*raw\n:MUELLE-MESH-GUARD - [0:0]\n-F MUELLE-MESH-GUARD\n-A MUELLE-MESH-GUARD ! -i lo -d 127.0.0.0/8 -j DROP\nCOMMIT\n');
    expect(meshIptablesJumps()).toContainEqual(['raw', 'PREROUTING', 'MUELLE-MESH-GUARD']);
  });

  it('refuses anything but addresses and ports, and a port published twice', () => {
    expect(() => checkMesh([{ publishedPort: 8080, protocol: 'tcp', backends: [{ address: '1.2.3.4; drop', port: 80 }] }])).toThrow(/refusing backend/);
    expect(() => checkMesh([{ publishedPort: 0, protocol: 'tcp', backends: [] }])).toThrow(/refusing port/);
    expect(() => checkMesh([rules[0]!, rules[0]!])).toThrow(/8080\/tcp is published by two services/);
  });
});
