import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { iptablesJumps, iptablesRestore, NetworkRuleModel, nftRuleset, PublishedPortRule } from './rules';

/**
 * Published ports as kernel DNAT, on a real kernel inside network namespaces this test makes (root;
 * run under `flock /tmp/muelle-kernel.lock`), with both firewall backends. A "host" namespace holds
 * the bridge, the rules and the route_localnet BridgeNetwork sets; a "container" namespace on the
 * bridge runs socat servers that answer with the peer address they see; a "client" namespace is a
 * machine on the host's LAN. No agent runs: the rules alone must forward.
 */
const isRoot = process.getuid?.() === 0;
const has = (command: string, args: string[]) => spawnSync(command, args).status === 0;
const describeKernel = isRoot && has('nft', ['--version']) && has('socat', ['-V']) ? describe : describe.skip;

const HOST = 'mpub-host';
const CONTAINER = 'mpub-ctr';
const CLIENT = 'mpub-client';
const BRIDGE = 'mpubbr0';
const SUBNET = '10.89.98.0/24';
const CONTAINER_IP = '10.89.98.2';
const HOST_LAN_IP = '10.89.99.1';
const CLIENT_IP = '10.89.99.2';

const sh = (args: string[], input?: string) => {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8', input });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};
const inNs = (ns: string, args: string[], input?: string) => sh(['ip', 'netns', 'exec', ns, ...args], input);

/**
 * What the server behind address:port answers (its view of our address), or '' when nothing answers.
 * On a loaded machine the server's fork of `sh` can outlast a short idle timeout, and a datagram or its
 * answer can be lost, so a question that expects an answer is asked up to three times; one that expects
 * silence (`tries` 1) is asked once, since a dropped connection costs its whole connect timeout.
 */
function ask(from: string, protocol: 'tcp' | 'udp', address: string, port: number, tries = 3): string {
  const target = protocol === 'tcp' ? `TCP:${address}:${port},connect-timeout=1` : `UDP:${address}:${port}`;
  for (let attempt = 1; ; attempt++) {
    const result = spawnSync('ip', ['netns', 'exec', from, 'timeout', '5', 'socat', '-T2', '-', target], { encoding: 'utf8', input: 'hello\n' });
    const answer = result.stdout.trim();
    if (answer || attempt >= tries) return answer;
  }
}
/** Asserts nothing answers: one question, no retries. */
const silent = (from: string, protocol: 'tcp' | 'udp', address: string, port: number) => ask(from, protocol, address, port, 1);

const published: PublishedPortRule[] = [
  { hostIp: '0.0.0.0', hostPort: 18080, protocol: 'tcp', targetIp: CONTAINER_IP, targetPort: 8080 },
  { hostIp: '127.0.0.1', hostPort: 18081, protocol: 'tcp', targetIp: CONTAINER_IP, targetPort: 8080 },
  { hostIp: '0.0.0.0', hostPort: 18053, protocol: 'udp', targetIp: CONTAINER_IP, targetPort: 5353 },
];
const model = (ports: PublishedPortRule[]): NetworkRuleModel => ({
  bridge: BRIDGE,
  subnet: SUBNET,
  members: [{ hostInterface: 'mpubv0', ipAddress: CONTAINER_IP, group: 'team:a' }],
  published: ports,
});

const backends = {
  nftables: (m: NetworkRuleModel) => inNs(HOST, ['nft', '-f', '-'], nftRuleset(m)),
  iptables: (m: NetworkRuleModel) => {
    const { filter, nat } = iptablesRestore(m);
    inNs(HOST, ['iptables-restore', '-w', '--noflush'], filter);
    inNs(HOST, ['iptables-restore', '-w', '--noflush'], nat);
    for (const [table, builtin, ours] of iptablesJumps(m.bridge)) {
      spawnSync('ip', ['netns', 'exec', HOST, 'iptables', '-w', '-t', table, '-D', builtin, '-j', ours]);
      inNs(HOST, ['iptables', '-w', '-t', table, '-I', builtin, '1', '-j', ours]);
    }
  },
};

function tearDown() {
  for (const ns of [HOST, CONTAINER, CLIENT]) spawnSync('ip', ['netns', 'del', ns]);
}

describeKernel.each(Object.keys(backends) as Array<keyof typeof backends>)('published ports as kernel DNAT (%s)', (backend) => {
  const servers: ChildProcess[] = [];
  const apply = (ports: PublishedPortRule[]) => backends[backend](model(ports));

  beforeAll(() => {
    tearDown();
    for (const ns of [HOST, CONTAINER, CLIENT]) {
      sh(['ip', 'netns', 'add', ns]);
      inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    inNs(HOST, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true']);
    inNs(HOST, ['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    inNs(HOST, ['ip', 'addr', 'add', '10.89.98.1/24', 'dev', BRIDGE]);
    inNs(HOST, ['ip', 'link', 'set', BRIDGE, 'up']);
    inNs(HOST, ['sh', '-c', `echo 1 > /proc/sys/net/ipv4/conf/${BRIDGE}/route_localnet`]);
    inNs(HOST, ['ip', 'link', 'add', 'mpubv0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CONTAINER]);
    inNs(HOST, ['ip', 'link', 'set', 'mpubv0', 'master', BRIDGE]);
    inNs(HOST, ['ip', 'link', 'set', 'mpubv0', 'up']);
    inNs(CONTAINER, ['ip', 'addr', 'add', `${CONTAINER_IP}/24`, 'dev', 'eth0']);
    inNs(CONTAINER, ['ip', 'link', 'set', 'eth0', 'up']);
    inNs(CONTAINER, ['ip', 'route', 'add', 'default', 'via', '10.89.98.1']);
    inNs(HOST, ['ip', 'link', 'add', 'mpublan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT]);
    inNs(HOST, ['ip', 'addr', 'add', `${HOST_LAN_IP}/30`, 'dev', 'mpublan0']);
    inNs(HOST, ['ip', 'link', 'set', 'mpublan0', 'up']);
    inNs(CLIENT, ['ip', 'addr', 'add', `${CLIENT_IP}/30`, 'dev', 'eth0']);
    inNs(CLIENT, ['ip', 'link', 'set', 'eth0', 'up']);
    // The servers print the peer address they see: the client's real one, unless NAT rewrote it.
    for (const listen of ['TCP-LISTEN:8080,fork,reuseaddr', 'UDP-RECVFROM:5353,fork']) {
      servers.push(spawn('ip', ['netns', 'exec', CONTAINER, 'socat', listen, 'SYSTEM:echo peer=$SOCAT_PEERADDR'], { stdio: 'ignore' }));
    }
    // Wait on the listeners, not a timer: the container answers directly before any rule exists.
    let listening = false;
    for (let i = 0; i < 50 && !listening; i++) {
      listening = silent(HOST, 'tcp', CONTAINER_IP, 8080) !== '';
      if (!listening) spawnSync('sleep', ['0.1']);
    }
    if (!listening) throw new Error(`the container's socat never answered on ${CONTAINER_IP}:8080`);
  });

  afterAll(() => {
    for (const server of servers) server.kill('SIGKILL');
    tearDown();
  });

  it('without rules nothing answers on the host ports (the test can see a difference)', () => {
    expect(ask(HOST, 'tcp', CONTAINER_IP, 8080)).toBe('peer=10.89.98.1');
    expect(silent(CLIENT, 'tcp', HOST_LAN_IP, 18080)).toBe('');
    expect(silent(HOST, 'tcp', '127.0.0.1', 18080)).toBe('');
  });

  it('a LAN client reaches the container through the host address and the container sees its real address', () => {
    apply(published);
    expect(ask(CLIENT, 'tcp', HOST_LAN_IP, 18080)).toBe(`peer=${CLIENT_IP}`);
    expect(ask(CLIENT, 'udp', HOST_LAN_IP, 18053)).toBe(`peer=${CLIENT_IP}`);
  });

  it('the host itself reaches it on 127.0.0.1 (hairpin, masqueraded to the bridge address) and on its own address', () => {
    apply(published);
    expect(ask(HOST, 'tcp', '127.0.0.1', 18080)).toBe('peer=10.89.98.1');
    expect(ask(HOST, 'udp', '127.0.0.1', 18053)).toBe('peer=10.89.98.1');
    expect(ask(HOST, 'tcp', HOST_LAN_IP, 18080)).toBe(`peer=${HOST_LAN_IP}`);
  });

  it('a port bound to 127.0.0.1 answers there only', () => {
    apply(published);
    expect(ask(HOST, 'tcp', '127.0.0.1', 18081)).toBe('peer=10.89.98.1');
    expect(silent(HOST, 'tcp', HOST_LAN_IP, 18081)).toBe('');
    expect(silent(CLIENT, 'tcp', HOST_LAN_IP, 18081)).toBe('');
  });

  it('a container knocking on its host\'s address is not forwarded: that is the host, closed to containers', () => {
    apply(published);
    expect(silent(CONTAINER, 'tcp', HOST_LAN_IP, 18080)).toBe('');
    expect(silent(CONTAINER, 'tcp', '10.89.98.1', 18080)).toBe('');
  });

  it('a port taken out of the rules stops answering; re-applying the same rules is idempotent', () => {
    apply(published);
    apply(published);
    expect(ask(CLIENT, 'tcp', HOST_LAN_IP, 18080)).toBe(`peer=${CLIENT_IP}`);
    apply(published.slice(1));
    expect(silent(CLIENT, 'tcp', HOST_LAN_IP, 18080)).toBe('');
    expect(ask(HOST, 'tcp', '127.0.0.1', 18081)).toBe('peer=10.89.98.1');
    const ruleCount = backend === 'nftables' ? (inNs(HOST, ['nft', 'list', 'ruleset']).match(/dnat ip to/g) ?? []).length : (inNs(HOST, ['iptables', '-w', '-t', 'nat', '-S']).match(/-j DNAT/g) ?? []).length;
    expect(ruleCount).toBe(backend === 'nftables' ? 4 : 2); // nftables: prerouting + output per port
  });
});
