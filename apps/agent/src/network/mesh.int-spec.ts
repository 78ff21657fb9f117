import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { MeshRule, meshIptablesJumps, meshIptablesRules, meshNftRules } from './mesh-plan';
import { iptablesJumps, iptablesRestore, NetworkRuleModel, nftRuleset } from './rules';

/**
 * The routing mesh's rules on a real kernel, in network namespaces this test makes (root; run under
 * `flock /tmp/muelle-kernel.lock`), with both firewall backends. Subnets 10.89.120.0/24–10.89.124.0/24.
 * Host A runs one replica (`a`) on its bridge; host B runs the other (`b`) on its own bridge, published
 * host-mode on backend port 31000 (B's ordinary published-port rules); they share an underlay link. A
 * client on A's LAN asks A's mesh port 18080. No agent runs: the rules alone must forward.
 */
const isRoot = process.getuid?.() === 0;
const has = (command: string, args: string[]) => spawnSync(command, args).status === 0;
const describeKernel = isRoot && has('nft', ['--version']) && has('socat', ['-V']) ? describe : describe.skip;

const A = 'mmesh-a';
const B = 'mmesh-b';
const CTR_A = 'mmesh-ctra';
const CTR_B = 'mmesh-ctrb';
const CLIENT = 'mmesh-client';
const A_LAN = '10.89.121.1';
const CLIENT_IP = '10.89.121.2';
const A_UNDERLAY = '10.89.122.1';
const B_UNDERLAY = '10.89.122.2';
const REPLICA_A = '10.89.120.2';
const REPLICA_B = '10.89.123.2';
const BACKEND_PORT = 31000;

const sh = (args: string[], input?: string) => {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8', input });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};
const inNs = (ns: string, args: string[], input?: string) => sh(['ip', 'netns', 'exec', ns, ...args], input);

/** What answers on address:port (`<replica> peer=<address it sees>`), or '' when nothing does (one question). */
function ask(from: string, address: string, port: number): string {
  const result = spawnSync('ip', ['netns', 'exec', from, 'timeout', '5', 'socat', '-T2', '-', `TCP:${address}:${port},connect-timeout=1`], { encoding: 'utf8', input: 'hello\n' });
  return result.stdout.trim();
}
/** The replicas that answered `times` questions (a loaded machine may drop one: retried once). */
function answers(from: string, address: string, port: number, times: number): string[] {
  const seen: string[] = [];
  for (let i = 0; i < times; i++) seen.push(ask(from, address, port) || ask(from, address, port));
  return seen;
}

const bridgeModel = (bridge: string, subnet: string, veth: string, ip: string, published: NetworkRuleModel['published']): NetworkRuleModel => ({
  bridge,
  subnet,
  members: [{ hostInterface: veth, ipAddress: ip, group: 'team:a' }],
  published,
});
const bridgeA = bridgeModel('mmeshbr0', '10.89.120.0/24', 'mmeshva', REPLICA_A, []);
const bridgeB = bridgeModel('mmeshbr1', '10.89.123.0/24', 'mmeshvb', REPLICA_B, [{ hostIp: '0.0.0.0', hostPort: BACKEND_PORT, protocol: 'tcp', targetIp: REPLICA_B, targetPort: 80 }]);
const both: MeshRule[] = [{ publishedPort: 18080, protocol: 'tcp', backends: [{ address: REPLICA_A, port: 80 }, { address: B_UNDERLAY, port: BACKEND_PORT }] }];
const onlyB: MeshRule[] = [{ publishedPort: 18080, protocol: 'tcp', backends: [{ address: B_UNDERLAY, port: BACKEND_PORT }] }];
const none: MeshRule[] = [{ publishedPort: 18080, protocol: 'tcp', backends: [] }];

const backends = {
  nftables: {
    bridge: (ns: string, m: NetworkRuleModel) => inNs(ns, ['nft', '-f', '-'], nftRuleset(m)),
    mesh: (ns: string, rules: MeshRule[]) => inNs(ns, ['nft', '-f', '-'], meshNftRules(rules)),
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
      for (const [builtin, ours] of meshIptablesJumps()) {
        spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-w', '-t', 'nat', '-D', builtin, '-j', ours]);
        inNs(ns, ['iptables', '-w', '-t', 'nat', '-I', builtin, '1', '-j', ours]);
      }
    },
  },
};

function tearDown() {
  for (const ns of [A, B, CTR_A, CTR_B, CLIENT]) spawnSync('ip', ['netns', 'del', ns]);
}

/** A bridge on `host` with one container namespace at `ip` (gateway .1). */
function bridgeWithContainer(host: string, bridge: string, veth: string, container: string, ip: string) {
  const gateway = ip.replace(/\.\d+$/, '.1');
  inNs(host, ['ip', 'link', 'add', bridge, 'type', 'bridge']);
  inNs(host, ['ip', 'addr', 'add', `${gateway}/24`, 'dev', bridge]);
  inNs(host, ['ip', 'link', 'set', bridge, 'up']);
  inNs(host, ['sh', '-c', `echo 1 > /proc/sys/net/ipv4/conf/${bridge}/route_localnet`]);
  inNs(host, ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', container]);
  inNs(host, ['ip', 'link', 'set', veth, 'master', bridge]);
  inNs(host, ['ip', 'link', 'set', veth, 'up']);
  inNs(container, ['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  inNs(container, ['ip', 'link', 'set', 'eth0', 'up']);
  inNs(container, ['ip', 'route', 'add', 'default', 'via', gateway]);
}

/** A point-to-point link between two namespaces. */
function link(left: string, leftIf: string, leftIp: string, right: string, rightIp: string) {
  inNs(left, ['ip', 'link', 'add', leftIf, 'type', 'veth', 'peer', 'name', `${leftIf}p`, 'netns', right]);
  inNs(left, ['ip', 'addr', 'add', `${leftIp}/24`, 'dev', leftIf]);
  inNs(left, ['ip', 'link', 'set', leftIf, 'up']);
  inNs(right, ['ip', 'addr', 'add', `${rightIp}/24`, 'dev', `${leftIf}p`]);
  inNs(right, ['ip', 'link', 'set', `${leftIf}p`, 'up']);
}

describeKernel.each(Object.keys(backends) as Array<keyof typeof backends>)('routing mesh rules (%s)', (backend) => {
  const servers: ChildProcess[] = [];
  const { bridge, mesh } = backends[backend];

  beforeAll(() => {
    tearDown();
    for (const ns of [A, B, CTR_A, CTR_B, CLIENT]) {
      sh(['ip', 'netns', 'add', ns]);
      inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    for (const host of [A, B]) inNs(host, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true']);
    bridgeWithContainer(A, 'mmeshbr0', 'mmeshva', CTR_A, REPLICA_A);
    bridgeWithContainer(B, 'mmeshbr1', 'mmeshvb', CTR_B, REPLICA_B);
    link(A, 'mmeshlan', A_LAN, CLIENT, CLIENT_IP);
    link(A, 'mmeshund', A_UNDERLAY, B, B_UNDERLAY);
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
  });

  afterAll(() => {
    for (const server of servers) server.kill('SIGKILL');
    tearDown();
  });

  it('without mesh rules the port does not answer (the test can see a difference), while B serves its backend port', () => {
    mesh(A, none);
    expect(ask(CLIENT, A_LAN, 18080)).toBe('');
    expect(ask(A, B_UNDERLAY, BACKEND_PORT)).toBe(`b peer=${A_UNDERLAY}`);
  });

  it('balances new connections over the local and the remote replica; both see the forwarding host, not the client', () => {
    mesh(A, both);
    const seen = answers(CLIENT, A_LAN, 18080, 16);
    expect(new Set(seen)).toEqual(new Set(['a peer=10.89.120.1', `b peer=${A_UNDERLAY}`]));
  });

  it('a host that runs no replica forwards to the replica on another host; the host itself reaches it on its own address', () => {
    mesh(A, onlyB);
    expect(answers(CLIENT, A_LAN, 18080, 4)).toEqual(Array(4).fill(`b peer=${A_UNDERLAY}`));
    expect(ask(A, A_LAN, 18080)).toBe(`b peer=${A_UNDERLAY}`);
  });

  it('a replica that leaves the set gets no new connection; re-applying is idempotent', () => {
    mesh(A, both);
    mesh(A, [{ ...both[0]!, backends: [{ address: REPLICA_A, port: 80 }] }]);
    mesh(A, [{ ...both[0]!, backends: [{ address: REPLICA_A, port: 80 }] }]);
    expect(answers(CLIENT, A_LAN, 18080, 6)).toEqual(Array(6).fill('a peer=10.89.120.1'));
    mesh(A, none);
    expect(ask(CLIENT, A_LAN, 18080)).toBe('');
  });
});
