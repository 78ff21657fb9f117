import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { MESH_GUARD_CHAIN, MESH_TABLE, MeshRule, meshIptablesJumps, meshIptablesRules, meshNftRules } from './mesh-plan';
import { iptablesJumps, iptablesRestore, NetworkRuleModel, nftRuleset } from './rules';
import { createMeshTopology, destroyMeshTopology, inNs, meshTopology } from './testing/mesh-topology';

/**
 * The routing mesh's rules on a real kernel, in network namespaces this test makes (root; run under
 * `flock /tmp/muelle-kernel.lock`), with both firewall backends. Subnets 10.89.120.0/24–10.89.123.0/24
 * (testing/mesh-topology.ts). Host A runs one replica (`a`) on its bridge; host B runs the other (`b`)
 * on its own bridge, published host-mode on backend port 31000 (B's ordinary published-port rules);
 * they share an underlay link. A client on A's LAN asks A's mesh port 18080. No agent runs: the rules
 * alone must forward (with the route_localnet RoutingMesh sets on the device toward another host).
 */
const isRoot = process.getuid?.() === 0;
const has = (command: string, args: string[]) => spawnSync(command, args).status === 0;
const describeKernel = isRoot && has('nft', ['--version']) && has('socat', ['-V']) ? describe : describe.skip;

const topology = meshTopology('mmesh', 120);
const { a: A, b: B, ctrA: CTR_A, ctrB: CTR_B, client: CLIENT, aLan: A_LAN, aUnderlay: A_UNDERLAY, bUnderlay: B_UNDERLAY, replicaA: REPLICA_A, replicaB: REPLICA_B } = topology;
const BACKEND_PORT = 31000;

/** What answers on address:port (`<replica> peer=<address it sees>`), or '' when nothing does (one question). */
function ask(from: string, address: string, port: number): string {
  const result = spawnSync('ip', ['netns', 'exec', from, 'timeout', '5', 'socat', '-T2', '-', `TCP:${address}:${port},connect-timeout=1`], { encoding: 'utf8', input: 'hello\n' });
  return result.stdout.trim();
}
/** An answer that should come: a loaded machine may drop one question (1 s to connect), so asked once more. */
function askExpectingAnswer(from: string, address: string, port: number): string {
  return ask(from, address, port) || ask(from, address, port);
}
/** The replicas that answered `times` questions. */
function answers(from: string, address: string, port: number, times: number): string[] {
  const seen: string[] = [];
  for (let i = 0; i < times; i++) seen.push(askExpectingAnswer(from, address, port));
  return seen;
}

const bridgeModel = (bridge: string, subnet: string, veth: string, ip: string, published: NetworkRuleModel['published']): NetworkRuleModel => ({
  bridge,
  subnet,
  members: [{ hostInterface: veth, ipAddress: ip, group: 'team:a' }],
  published,
});
const bridgeA = bridgeModel(topology.bridgeA, topology.subnetA, topology.vethA, REPLICA_A, []);
const bridgeB = bridgeModel(topology.bridgeB, topology.subnetB, topology.vethB, REPLICA_B, [{ hostIp: '0.0.0.0', hostPort: BACKEND_PORT, protocol: 'tcp', targetIp: REPLICA_B, targetPort: 80 }]);
const both: MeshRule[] = [{ publishedPort: 18080, protocol: 'tcp', backends: [{ address: REPLICA_A, port: 80 }, { address: B_UNDERLAY, port: BACKEND_PORT }] }];
const onlyB: MeshRule[] = [{ publishedPort: 18080, protocol: 'tcp', backends: [{ address: B_UNDERLAY, port: BACKEND_PORT }] }];
const none: MeshRule[] = [{ publishedPort: 18080, protocol: 'tcp', backends: [] }];

// As RoutingMesh does: route_localnet on the device toward another host's replicas (here A's underlay).
const localnetTowardB = () => inNs(A, ['sh', '-c', `echo 1 > /proc/sys/net/ipv4/conf/${topology.underlayA}/route_localnet`]);

const backends = {
  nftables: {
    bridge: (ns: string, m: NetworkRuleModel) => inNs(ns, ['nft', '-f', '-'], nftRuleset(m)),
    mesh: (ns: string, rules: MeshRule[]) => inNs(ns, ['nft', '-f', '-'], meshNftRules(rules)),
    unguard: (ns: string) => inNs(ns, ['nft', 'delete', 'chain', 'ip', MESH_TABLE, 'guard']),
  },
  iptables: {
    bridge: (ns: string, m: NetworkRuleModel) => {
      const { filter, nat } = iptablesRestore(m);
      inNs(ns, ['iptables-restore', '-w', '--noflush'], filter);
      inNs(ns, ['iptables-restore', '-w', '--noflush'], nat);
      for (const [table, builtin, ours] of iptablesJumps(m.bridge)) {
        spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-w', '-t', table, '-D', builtin, '-j', ours]);
        inNs(ns, ['iptables', '-w', '-t', table, '-I', builtin, '1', '-j', ours]);
      }
    },
    mesh: (ns: string, rules: MeshRule[]) => {
      inNs(ns, ['iptables-restore', '-w', '--noflush'], meshIptablesRules(rules));
      for (const [table, builtin, ours] of meshIptablesJumps()) {
        spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-w', '-t', table, '-D', builtin, '-j', ours]);
        inNs(ns, ['iptables', '-w', '-t', table, '-I', builtin, '1', '-j', ours]);
      }
    },
    unguard: (ns: string) => inNs(ns, ['iptables', '-w', '-t', 'raw', '-F', MESH_GUARD_CHAIN]),
  },
};

describeKernel.each(Object.keys(backends) as Array<keyof typeof backends>)('routing mesh rules (%s)', (backend) => {
  const servers: ChildProcess[] = [];
  const { bridge, mesh, unguard } = backends[backend];

  beforeAll(() => {
    createMeshTopology(topology);
    // Each replica says who it is and the peer address it sees.
    for (const [ns, name] of [[CTR_A, 'a'], [CTR_B, 'b']] as const) {
      servers.push(spawn('ip', ['netns', 'exec', ns, 'socat', 'TCP-LISTEN:80,fork,reuseaddr', `SYSTEM:echo ${name} peer=$SOCAT_PEERADDR`], { stdio: 'ignore' }));
    }
    let listening = false;
    for (let i = 0; i < 50 && !listening; i++) {
      listening = ask(A, REPLICA_A, 80) !== '' && ask(B, REPLICA_B, 80) !== '';
      if (!listening) spawnSync('sleep', ['0.1']);
    }
    if (!listening) throw new Error('the replicas never answered on port 80');
    bridge(A, bridgeA);
    bridge(B, bridgeB);
    localnetTowardB();
  });

  afterAll(() => {
    for (const server of servers) server.kill('SIGKILL');
    destroyMeshTopology(topology);
  });

  it('without mesh rules the port does not answer (the test can see a difference), while B serves its backend port', () => {
    mesh(A, none);
    expect(ask(CLIENT, A_LAN, 18080)).toBe('');
    expect(answers(A, B_UNDERLAY, BACKEND_PORT, 1)).toEqual([`b peer=${A_UNDERLAY}`]);
  });

  it('balances new connections over the local and the remote replica; both see the forwarding host, not the client', () => {
    mesh(A, both);
    const seen = answers(CLIENT, A_LAN, 18080, 16);
    expect(new Set(seen)).toEqual(new Set(['a peer=10.89.120.1', `b peer=${A_UNDERLAY}`]));
  });

  it('a host that runs no replica forwards to the replica on another host; the host itself reaches it on its own address', () => {
    mesh(A, onlyB);
    expect(answers(CLIENT, A_LAN, 18080, 4)).toEqual(Array(4).fill(`b peer=${A_UNDERLAY}`));
    expect(askExpectingAnswer(A, A_LAN, 18080)).toBe(`b peer=${A_UNDERLAY}`);
  });

  it('a replica that leaves the set gets no new connection; re-applying is idempotent', () => {
    mesh(A, both);
    mesh(A, [{ ...both[0]!, backends: [{ address: REPLICA_A, port: 80 }] }]);
    mesh(A, [{ ...both[0]!, backends: [{ address: REPLICA_A, port: 80 }] }]);
    expect(answers(CLIENT, A_LAN, 18080, 6)).toEqual(Array(6).fill('a peer=10.89.120.1'));
    mesh(A, none);
    expect(ask(CLIENT, A_LAN, 18080)).toBe('');
  });

  it('a client on the host itself at 127.0.0.1 reaches a replica on another host (hairpin to a remote backend)', () => {
    mesh(A, onlyB);
    expect(answers(A, '127.0.0.1', 18080, 2)).toEqual(Array(2).fill(`b peer=${A_UNDERLAY}`));
    mesh(A, both);
    expect(new Set(answers(A, '127.0.0.1', 18080, 12))).toEqual(new Set(['a peer=10.89.120.1', `b peer=${A_UNDERLAY}`]));
  });

  it('the underlay neighbour cannot reach the host\'s loopback services through that route_localnet (the guard; without it, it can)', () => {
    mesh(A, none);
    const listener = spawn('ip', ['netns', 'exec', A, 'socat', 'TCP-LISTEN:18999,bind=127.0.0.1,fork,reuseaddr', 'SYSTEM:echo loopback-only'], { stdio: 'ignore' });
    // B sends to 127.0.0.1 via A (its own local table must not answer first) and takes replies from 127.0.0.1.
    const rules = [
      ['sh', '-c', `echo 1 > /proc/sys/net/ipv4/conf/${topology.underlayA}p/route_localnet`],
      ['ip', 'rule', 'add', 'pref', '10', 'lookup', 'local'],
      ['ip', 'rule', 'del', 'pref', '0'],
      ['ip', 'route', 'add', '127.0.0.1/32', 'via', A_UNDERLAY, 'table', '100'],
      ['ip', 'rule', 'add', 'pref', '5', 'to', '127.0.0.1/32', 'lookup', '100'],
    ];
    try {
      for (const r of rules) inNs(B, r);
      for (let i = 0; i < 50 && ask(A, '127.0.0.1', 18999) === ''; i++) spawnSync('sleep', ['0.1']);
      expect(askExpectingAnswer(A, '127.0.0.1', 18999)).toBe('loopback-only');
      expect(ask(B, '127.0.0.1', 18999)).toBe('');
      unguard(A);
      expect(askExpectingAnswer(B, '127.0.0.1', 18999)).toBe('loopback-only');
    } finally {
      listener.kill('SIGKILL');
      spawnSync('ip', ['netns', 'exec', B, 'ip', 'rule', 'del', 'pref', '5']); // absent when the setup failed first
      spawnSync('ip', ['netns', 'exec', B, 'ip', 'rule', 'add', 'pref', '0', 'lookup', 'local']);
      spawnSync('ip', ['netns', 'exec', B, 'ip', 'rule', 'del', 'pref', '10']);
      spawnSync('ip', ['netns', 'exec', B, 'sh', '-c', `echo 0 > /proc/sys/net/ipv4/conf/${topology.underlayA}p/route_localnet`]);
      mesh(A, none); // the guard back
    }
  });
});
