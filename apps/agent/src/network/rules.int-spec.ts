import { spawnSync } from 'node:child_process';
import { nftRuleset } from './rules';

/**
 * The rule text on a real kernel, inside network namespaces this test makes (root; run under
 * `flock /tmp/muelle-kernel.lock`). A "host" namespace holds the bridge and the rules; three
 * "container" namespaces plug into it, two of team a, one of team b. br_netfilter is off in the host
 * namespace (the sysctl is per namespace), so only the `bridge` table sees frames switched inside
 * the bridge: this proves that layer on its own, which the agent e2e (br_netfilter on) cannot.
 */
const isRoot = process.getuid?.() === 0;
const hasTools = spawnSync('nft', ['--version']).status === 0 && spawnSync('busybox', ['ping', '--help']).error === undefined;
const describeKernel = isRoot && hasTools ? describe : describe.skip;

const HOST = 'mrules-host';
const BRIDGE = 'mrulesbr0';
const containers = [
  { ns: 'mrules-a1', veth: 'mrulesva1', ip: '10.89.96.2', group: 'team:a' },
  { ns: 'mrules-a2', veth: 'mrulesva2', ip: '10.89.96.3', group: 'team:a' },
  { ns: 'mrules-b1', veth: 'mrulesvb1', ip: '10.89.96.4', group: 'team:b' },
];

const sh = (args: string[], input?: string) => {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8', input });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};
const inNs = (ns: string, args: string[], input?: string) => sh(['ip', 'netns', 'exec', ns, ...args], input);
const pings = (from: string, to: string) => spawnSync('ip', ['netns', 'exec', from, 'busybox', 'ping', '-c', '1', '-W', '1', to]).status === 0;

function tearDown() {
  for (const ns of [HOST, ...containers.map((c) => c.ns)]) spawnSync('ip', ['netns', 'del', ns]);
}

describeKernel('network rules on a real bridge (bridge layer alone)', () => {
  const apply = (members = containers) =>
    inNs(HOST, ['nft', '-f', '-'], nftRuleset({ bridge: BRIDGE, subnet: '10.89.96.0/24', members: members.map((c) => ({ hostInterface: c.veth, ipAddress: c.ip, group: c.group })), published: [] }));

  beforeAll(() => {
    tearDown();
    sh(['ip', 'netns', 'add', HOST]);
    inNs(HOST, ['sh', '-c', `echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true`]);
    inNs(HOST, ['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    inNs(HOST, ['ip', 'addr', 'add', '10.89.96.1/24', 'dev', BRIDGE]);
    inNs(HOST, ['ip', 'link', 'set', BRIDGE, 'up']);
    for (const c of containers) {
      sh(['ip', 'netns', 'add', c.ns]);
      inNs(HOST, ['ip', 'link', 'add', c.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c.ns]);
      inNs(HOST, ['ip', 'link', 'set', c.veth, 'master', BRIDGE]);
      inNs(HOST, ['ip', 'link', 'set', c.veth, 'up']);
      inNs(c.ns, ['ip', 'addr', 'add', `${c.ip}/24`, 'dev', 'eth0']);
      inNs(c.ns, ['ip', 'link', 'set', 'eth0', 'up']);
    }
  });
  afterAll(tearDown);

  it('without rules everything on the bridge talks (the test can see a difference)', () => {
    expect(pings('mrules-a1', '10.89.96.4')).toBe(true);
    expect(pings('mrules-a1', '10.89.96.1')).toBe(true);
  });

  it('with rules: same team yes, other team no, the host no', () => {
    apply();
    expect(pings('mrules-a1', '10.89.96.3')).toBe(true);
    expect(pings('mrules-a1', '10.89.96.4')).toBe(false);
    expect(pings('mrules-b1', '10.89.96.2')).toBe(false);
    expect(pings('mrules-a1', '10.89.96.1')).toBe(false);
  });

  it('a container sending from a teammate\'s address (CAP_NET_RAW spoofing) is dropped', () => {
    apply();
    // b1 takes a team-a address as a second one and sends from it. Both ends know each other's MAC
    // without ARP (which the rules also check), so only the IP source check stands in the way.
    inNs('mrules-b1', ['ip', 'addr', 'add', '10.89.96.9/24', 'dev', 'eth0']);
    const b1Mac = inNs('mrules-b1', ['cat', '/sys/class/net/eth0/address']).trim();
    const a2Mac = inNs('mrules-a2', ['cat', '/sys/class/net/eth0/address']).trim();
    inNs('mrules-a2', ['ip', 'neigh', 'replace', '10.89.96.9', 'lladdr', b1Mac, 'dev', 'eth0', 'nud', 'permanent']);
    inNs('mrules-b1', ['ip', 'neigh', 'replace', '10.89.96.3', 'lladdr', a2Mac, 'dev', 'eth0', 'nud', 'permanent']);
    try {
      expect(spawnSync('ip', ['netns', 'exec', 'mrules-b1', 'busybox', 'ping', '-c', '1', '-W', '1', '-I', '10.89.96.9', '10.89.96.3']).status).not.toBe(0);
      // Even as a member of team a's set, a source not bound to its port is refused.
      apply([...containers, { ns: 'x', veth: 'mrulesvx', ip: '10.89.96.9', group: 'team:a' }]);
      expect(spawnSync('ip', ['netns', 'exec', 'mrules-b1', 'busybox', 'ping', '-c', '1', '-W', '1', '-I', '10.89.96.9', '10.89.96.3']).status).not.toBe(0);
    } finally {
      inNs('mrules-b1', ['ip', 'addr', 'del', '10.89.96.9/24', 'dev', 'eth0']);
      inNs('mrules-a2', ['ip', 'neigh', 'del', '10.89.96.9', 'dev', 'eth0']);
      inNs('mrules-b1', ['ip', 'neigh', 'del', '10.89.96.3', 'dev', 'eth0']);
    }
  });

  it('a container moved to another group follows the rules of its new group', () => {
    apply(containers.map((c) => (c.ns === 'mrules-a2' ? { ...c, group: 'team:b' } : c)));
    expect(pings('mrules-a2', '10.89.96.4')).toBe(true);
    expect(pings('mrules-a2', '10.89.96.2')).toBe(false);
  });
});
