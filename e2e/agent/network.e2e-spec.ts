import { BusClient } from '@muelle/bus';
import { ContainerSpecInput } from '@muelle/contracts';
import { eventually, freePort, RunningDistribution, startDistributionRegistry } from '@muelle/testing';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { connect, createServer, Server } from 'node:net';
import { AgentUnderTest, connectBus, contractsFor, hostAddress, isRoot, newId, pushBusybox, startAgentProcess, waitForAgent } from './support';

/**
 * The container network rules, proven from inside containers of two teams on one agent (root,
 * real kernel, nftables, `npm run build`; run under `flock /tmp/muelle-kernel.lock`). Two network
 * namespaces made here stand in for the internet and for a cloud metadata service at
 * 169.254.169.254; nothing leaves this machine.
 */
const describeRoot = isRoot ? describe : describe.skip;

const BRIDGE = 'muelle-net0';
const TABLE = 'muelle_muelle_net0';
const sh = (args: string[], allowFailure = false) => {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0 && !allowFailure) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};

/** A namespace on a /30 routed from the host: `inside` answers HTTP on port 80 with `answer`. */
class RoutedNamespace {
  private listener?: ChildProcess;
  constructor(
    readonly name: string,
    private readonly hostSide: string,
    private readonly net: string,
    private readonly extraAddress?: string,
  ) {}

  get inside() {
    return `${this.net}.2`;
  }

  setUp(answer: string) {
    this.tearDown();
    sh(['ip', 'netns', 'add', this.name]);
    sh(['ip', 'link', 'add', this.hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.name]);
    sh(['ip', 'addr', 'add', `${this.net}.1/30`, 'dev', this.hostSide]);
    sh(['ip', 'link', 'set', this.hostSide, 'up']);
    const ns = ['ip', 'netns', 'exec', this.name];
    sh([...ns, 'ip', 'addr', 'add', `${this.inside}/30`, 'dev', 'eth0']);
    if (this.extraAddress) sh([...ns, 'ip', 'addr', 'add', `${this.extraAddress}/32`, 'dev', 'eth0']);
    sh([...ns, 'ip', 'link', 'set', 'eth0', 'up']);
    sh([...ns, 'ip', 'link', 'set', 'lo', 'up']);
    sh([...ns, 'ip', 'route', 'add', 'default', 'via', `${this.net}.1`]);
    if (this.extraAddress) sh(['ip', 'route', 'add', `${this.extraAddress}/32`, 'via', this.inside]);
    this.listener = spawn('ip', [...ns.slice(1), 'socat', 'TCP-LISTEN:80,fork,reuseaddr', `SYSTEM:echo HTTP/1.0 200 OK; echo; echo ${answer}`], { stdio: 'ignore' });
  }

  tearDown() {
    this.listener?.kill('SIGKILL');
    if (this.extraAddress) sh(['ip', 'route', 'del', `${this.extraAddress}/32`], true);
    sh(['ip', 'link', 'del', this.hostSide], true);
    sh(['ip', 'netns', 'del', this.name], true);
  }
}

const IPT_CHAINS: Array<[string, string, string]> = [
  ['filter', 'INPUT', 'MUELLE-muelle-net0-IN'],
  ['filter', 'FORWARD', 'MUELLE-muelle-net0-FWD'],
  ['nat', 'POSTROUTING', 'MUELLE-muelle-net0-NAT'],
  ['nat', 'PREROUTING', 'MUELLE-muelle-net0-PUB'],
  ['nat', 'OUTPUT', 'MUELLE-muelle-net0-PUB'],
];

describeRoot.each(['nftables', 'iptables'] as const)('container network rules with %s (one agent, two teams)', (firewall) => {
  const teamA = randomUUID();
  const teamB = randomUUID();
  const internet = new RoutedNamespace('mnet-internet', 'mnetinet0', '10.89.90');
  const metadata = new RoutedNamespace('mnet-metadata', 'mnetmeta0', '10.89.91', '169.254.169.254');
  let registry: RunningDistribution;
  let image: string;
  let bus: BusClient;
  let agent: AgentUnderTest;
  let c: ReturnType<typeof contractsFor>;
  let hostListener: Server;
  let hostPort: number;
  let serverA: { id: string; ip: string };
  let serverB: { id: string; ip: string };
  let gateway: string;

  const env = () => ({ MUELLE_REGISTRY_ADDRESS: new URL(registry.url).host, MUELLE_BRIDGE_NAME: BRIDGE, MUELLE_BRIDGE_SUBNET: '10.89.79.0/24', MUELLE_NETWORK_FIREWALL: firewall, MUELLE_DNS_UPSTREAM: '' });
  const startServer = async (teamId: string, spec: Partial<ContainerSpecInput> = {}) => {
    const { id } = await bus.request(c.create, {
      id: newId(),
      name: `srv-${newId().slice(0, 8)}`,
      teamId,
      spec: { image, network: 'bridge', command: ['sh', '-c', 'while true; do echo -e "HTTP/1.0 200 OK\\r\\n\\r\\nhello from $(hostname)" | nc -l -p 8080; done'], ...spec } as never,
    });
    const info = await bus.request(c.start, { id });
    return { id, ip: info.ipAddress as string };
  };
  /** Connects with `nc` from a fresh container of `teamId` and prints what the server sent, then `rc=<exit code>`. */
  const fetchFrom = async (teamId: string, target: string, spec: Partial<ContainerSpecInput> = {}) => {
    const [host, port] = target.split(':');
    const { id } = await bus.request(c.create, {
      id: newId(),
      name: `probe-${newId().slice(0, 8)}`,
      teamId,
      spec: { image, network: 'bridge', command: ['sh', '-c', `sleep 1 | nc -w 2 ${host} ${port ?? 80} 2>&1; echo rc=$?`], ...spec } as never,
    });
    await bus.request(c.start, { id });
    await bus.request(c.wait, { id }, { timeoutMs: 20_000 });
    const output = (await bus.request(c.logs, { id })).lines.map((l) => l.line).join('');
    await bus.request(c.remove, { id, force: true });
    return output;
  };
  /** Like fetchFrom for several targets from one container: what each printed, then `rc=<exit code>`, in order. */
  const probeAll = async (teamId: string, targets: string[], spec: Partial<ContainerSpecInput> = {}) => {
    const script = targets.map((t) => `echo ==; sleep 0.5 | nc -w 1 ${t.replace(':', ' ')} 2>&1; echo rc=$?`).join('; ');
    const { id } = await bus.request(c.create, { id: newId(), name: `probe-${newId().slice(0, 8)}`, teamId, spec: { image, network: 'bridge', command: ['sh', '-c', script], ...spec } as never });
    await bus.request(c.start, { id });
    await bus.request(c.wait, { id }, { timeoutMs: 20_000 });
    const output = (await bus.request(c.logs, { id })).lines.map((l) => l.line).join('');
    await bus.request(c.remove, { id, force: true });
    return output.split('==').slice(1);
  };
  /** The rules as the kernel holds them; pairs show as `a . b` (nftables) or `-s a/32 -d b/32` (iptables). */
  const rulesText = () =>
    firewall === 'nftables'
      ? sh(['nft', 'list', 'table', 'inet', TABLE]) + sh(['nft', 'list', 'table', 'bridge', TABLE])
      : IPT_CHAINS.filter(([, builtin]) => builtin !== 'OUTPUT') // -PUB is jumped to twice: list it once
          .map(([table, , chain]) => sh(['iptables', '-w', '-t', table, '-S', chain]))
          .join('');
  /** How the rules show that `a` may reach `b`: both in one group set (nftables) or a pair rule (iptables). */
  const allowed = (rules: string, a: string, b: string) => {
    if (firewall === 'iptables') return rules.includes(`-s ${a}/32 -d ${b}/32`);
    const sets = [...rules.matchAll(/set group_\d+ \{[^}]*?elements = \{([^}]*)\}/g)].map((m) => (m[1] ?? '').split(',').map((e) => e.trim()));
    return sets.some((set) => set.includes(a) && set.includes(b));
  };
  /** A stale rule a previous run might have left: it must be gone after the agent restarts. */
  const addStale = () =>
    firewall === 'nftables'
      ? sh(['nft', 'add', 'element', 'inet', TABLE, 'group_0', '{ 10.89.79.250 }'])
      : sh(['iptables', '-w', '-I', 'MUELLE-muelle-net0-FWD', '-s', '10.89.79.250', '-d', '10.89.79.251', '-j', 'ACCEPT']);
  // Two teams' user-defined networks, as metadata would record them (the agent gets them in the spec).
  const netA = { id: newId(), name: 'front', driver: 'overlay' as const, subnet: '10.89.200.0/24', gateway: '10.89.200.1', internal: false };
  const netB = { id: newId(), name: 'back', driver: 'bridge' as const, subnet: '10.89.201.0/24', gateway: '10.89.201.254', internal: true };
  const userBridges = [netA, netB].map((n) => `mn${n.id.slice(0, 10)}`);
  const removeRules = () => {
    for (const bridge of userBridges) {
      sh(['nft', 'delete', 'table', 'inet', `muelle_${bridge}`], true);
      sh(['nft', 'delete', 'table', 'bridge', `muelle_${bridge}`], true);
      for (const [table, builtin, chain] of IPT_CHAINS.map(([t, b, ch]) => [t, b, ch.replace('muelle-net0', bridge)] as const)) {
        sh(['iptables', '-w', '-t', table, '-D', builtin, '-j', chain], true);
        sh(['iptables', '-w', '-t', table, '-F', chain], true);
        sh(['iptables', '-w', '-t', table, '-X', chain], true);
      }
      sh(['ip', 'link', 'del', bridge], true);
    }
    sh(['nft', 'delete', 'table', 'inet', TABLE], true);
    sh(['nft', 'delete', 'table', 'bridge', TABLE], true);
    for (const [table, builtin, chain] of IPT_CHAINS) {
      sh(['iptables', '-w', '-t', table, '-D', builtin, '-j', chain], true);
      sh(['iptables', '-w', '-t', table, '-F', chain], true);
      sh(['iptables', '-w', '-t', table, '-X', chain], true);
    }
  };
  /** What a TCP server sends on connect (from the test process, in the root namespace). */
  const tcpRead = (host: string, port: number) =>
    new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect({ host, port, timeout: 3000 }, () => socket.end());
      socket.on('data', (d) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('timeout', () => socket.destroy(new Error(`${host}:${port}: no answer`)));
      socket.on('error', reject);
    });
  const httpGet = (url: string) =>
    new Promise<string>((resolve, reject) => {
      get(url, { timeout: 3000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
        .on('timeout', function (this: { destroy(e: Error): void }) {
          this.destroy(new Error(`${url}: no answer`));
        })
        .on('error', reject);
    });
  const readyz = async () => JSON.parse(await httpGet(`${agent.url}/readyz`)) as { details?: Record<string, string> };

  beforeAll(async () => {
    removeRules();
    internet.setUp('hello from the internet');
    metadata.setUp('secret metadata');
    hostListener = createServer((socket) => socket.end('HTTP/1.0 200 OK\r\n\r\nhost service\n'));
    hostPort = await freePort();
    await new Promise<void>((resolve) => hostListener.listen(hostPort, '0.0.0.0', resolve));
    registry = await startDistributionRegistry();
    image = pushBusybox(registry.url);
    bus = await connectBus();
    agent = await startAgentProcess(env());
    c = contractsFor(agent.hostId);
    await waitForAgent(bus, agent.hostId);
    serverA = await startServer(teamA, { ports: [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 8080 }] });
    serverB = await startServer(teamB);
    gateway = (await bus.request(c.inspect, { id: serverA.id })).gateway as string;
  }, 120_000);

  afterAll(async () => {
    if (bus && c) {
      for (const item of (await bus.request(c.list, {}).catch(() => ({ items: [] }))).items) await bus.request(c.remove, { id: item.id, force: true }).catch(() => undefined);
    }
    await agent?.process.stop('SIGTERM');
    await bus?.close();
    await registry?.stop();
    hostListener?.close();
    internet.tearDown();
    metadata.tearDown();
    removeRules();
  }, 60_000);

  it('reports the firewall backend in /readyz', async () => {
    expect((await readyz()).details?.network).toBe(`bridge ${BRIDGE}, firewall ${firewall}`);
  });

  it('reaches its own team and the outside world, not another team, the host or link-local', async () => {
    const [sameTeam, otherTeam, viaGateway, hostOwnAddress, linkLocal, outside] = await Promise.all([
      fetchFrom(teamA, `${serverA.ip}:8080`),
      fetchFrom(teamA, `${serverB.ip}:8080`),
      fetchFrom(teamA, `${gateway}:${hostPort}`),
      fetchFrom(teamA, `${hostAddress()}:${hostPort}`),
      fetchFrom(teamA, '169.254.169.254:80'),
      fetchFrom(teamA, `${internet.inside}:80`),
    ]);
    expect(sameTeam).toMatch(/hello from \w+\s+rc=0/);
    expect(otherTeam).toMatch(/rc=1/);
    expect(otherTeam).not.toContain('hello');
    expect(viaGateway).toMatch(/rc=1/);
    expect(viaGateway).not.toContain('host service');
    expect(hostOwnAddress).not.toContain('host service');
    expect(linkLocal).toMatch(/rc=1/);
    expect(linkLocal).not.toContain('secret metadata');
    expect(outside).toMatch(/hello from the internet\s+rc=0/);
    // The stand-in metadata service itself answers: only the rule keeps containers away.
    expect(await tcpRead('169.254.169.254', 80)).toContain('secret metadata');
  }, 60_000);

  it('team B reaches its own server, and the published port of team A answers on 127.0.0.1', async () => {
    expect(await fetchFrom(teamB, `${serverB.ip}:8080`)).toMatch(/hello from \w+\s+rc=0/);
    const port = (await bus.request(c.inspect, { id: serverA.id })).ports[0]?.hostPort;
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toContain('hello from');
  }, 30_000);

  it('a published port answers on 127.0.0.1, the host address and from the LAN with the real client address, also while the agent is killed and restarted', async () => {
    // The server answers each connection with netstat: the peer address the container sees.
    const { id } = await bus.request(c.create, {
      id: newId(),
      name: `peer-${newId().slice(0, 8)}`,
      teamId: teamA,
      spec: { image, network: 'bridge', command: ['sh', '-c', 'while true; do nc -l -p 8080 -e netstat -tn; done'], ports: [{ hostIp: '0.0.0.0', hostPort: 0, containerPort: 8080 }] } as never,
    });
    await bus.request(c.start, { id });
    const port = (await bus.request(c.inspect, { id })).ports[0]?.hostPort as number;
    const fromLan = () => sh(['ip', 'netns', 'exec', internet.name, 'busybox', 'nc', '-w', '2', `${internet.inside.replace(/\.2$/, '.1')}`, String(port)], true);
    // Each read waits for the listener: the container's nc starts again after every connection, and
    // on a loaded machine the next read can come first (refused by the container, not by the rules).
    const answersEverywhere = async () => {
      expect(await eventually(() => tcpRead('127.0.0.1', port), { timeoutMs: 5000 })).toContain(`:8080`);
      expect(await eventually(() => tcpRead(hostAddress(), port), { timeoutMs: 5000 })).toContain(`${hostAddress()}:`);
      // not masqueraded: the LAN client's own address
      await eventually(async () => expect(fromLan()).toContain(`${internet.inside}:`), { timeoutMs: 5000 });
    };
    await answersEverywhere();

    agent.process.child.kill('SIGKILL');
    await agent.process.exited;
    await answersEverywhere(); // no agent process at all: the kernel forwards

    agent = await startAgentProcess(env(), agent.dataDir, agent.hostId);
    await waitForAgent(bus, agent.hostId);
    await eventually(async () => expect((await readyz()).details?.network).toContain(firewall), { timeoutMs: 20_000 });
    await answersEverywhere();
    const dnatRules = rulesText().split('\n').filter((l) => l.includes(`dport ${port}`));
    expect(dnatRules).toHaveLength(firewall === 'nftables' ? 2 : 1); // rebuilt, not added twice (nftables: prerouting and output)
    await bus.request(c.remove, { id, force: true });
    expect(rulesText()).not.toContain(`dport ${port}`);
    expect(await tcpRead('127.0.0.1', port).catch((error: Error) => error.message)).toMatch(/ECONNREFUSED|no answer/);
  }, 60_000);

  it("user networks: a network's containers reach each other and the outside; nothing else gets in; an internal network has no way out", async () => {
    const on = (network: typeof netA | typeof netB, address: string) => ({ network: 'bridge' as const, networks: [{ ...network, address }] });
    const web = await startServer(teamA, on(netA, '10.89.200.10'));
    const db = await startServer(teamB, on(netB, '10.89.201.10'));
    expect(web.ip).toBe('10.89.200.10');
    expect((await bus.request(c.inspect, { id: db.id })).gateway).toBe('10.89.201.254');
    // One probe container per network tries every target in turn (a refused one costs its 1 s timeout).
    const [fromA, fromB, fromDefaultBridge] = await Promise.all([
      probeAll(teamA, ['10.89.200.10:8080', '10.89.201.10:8080', `${serverA.ip}:8080`, `10.89.200.1:${hostPort}`, `${internet.inside}:80`], on(netA, '10.89.200.11')),
      probeAll(teamB, ['10.89.201.10:8080', `${internet.inside}:80`], on(netB, '10.89.201.11')),
      probeAll(teamA, ['10.89.200.10:8080']),
    ]);
    const [peer, otherTeamsNetwork, ownTeamOnDefaultBridge, gatewayOfNetwork, outside] = fromA;
    const [internalPeer, internalOut] = fromB;
    expect(peer).toMatch(/hello from \w+\s+rc=0/);
    expect(outside).toMatch(/hello from the internet\s+rc=0/);
    expect(internalPeer).toMatch(/hello from \w+\s+rc=0/);
    for (const refused of [otherTeamsNetwork, ownTeamOnDefaultBridge, gatewayOfNetwork, internalOut, fromDefaultBridge[0]]) {
      expect(refused).toMatch(/rc=1/);
      expect(refused).not.toMatch(/hello|host service/);
    }
    await bus.request(c.remove, { id: web.id, force: true });
    await bus.request(c.remove, { id: db.id, force: true });
  }, 60_000);

  it('a container on two networks has eth0 and eth1 with its address on each, the default route through the first, and reaches both networks', async () => {
    const web = await startServer(teamA, { network: 'bridge', networks: [{ ...netA, address: '10.89.200.20' }] });
    const db = await startServer(teamB, { network: 'bridge', networks: [{ ...netB, address: '10.89.201.20' }] });
    // eth1 is there before the workload runs (beforeStart): no wait.
    const script = 'ip -o -4 addr show | grep eth; ip route show default; ' + [web, db].map((t) => `echo ==; sleep 0.5 | nc -w 1 ${t.ip} 8080 2>&1; echo rc=$?`).join('; ');
    const networks = [{ ...netA, address: '10.89.200.21' }, { ...netB, address: '10.89.201.21' }];
    const { id } = await bus.request(c.create, { id: newId(), name: `multi-${newId().slice(0, 8)}`, teamId: teamA, spec: { image, network: 'bridge', networks, command: ['sh', '-c', script] } as never });
    await bus.request(c.start, { id });
    await bus.request(c.wait, { id }, { timeoutMs: 20_000 });
    const [interfaces, toWeb, toDb] = (await bus.request(c.logs, { id })).lines.map((l) => l.line).join('').split('==');
    expect(interfaces).toMatch(/eth0\s+inet 10\.89\.200\.21\/24/);
    expect(interfaces).toMatch(/eth1\s+inet 10\.89\.201\.21\/24/);
    expect(interfaces).toMatch(/default via 10\.89\.200\.1 dev eth0/);
    expect(toWeb).toMatch(/hello from \w+\s+rc=0/);
    expect(toDb).toMatch(/hello from \w+\s+rc=0/);
    for (const container of [id, web.id, db.id]) await bus.request(c.remove, { id: container, force: true });
    // The second network's host end went with the container.
    expect(sh(['ip', '-o', 'link', 'show'])).not.toMatch(/ me[0-9a-f]{10}[@:]/);
  }, 60_000);

  it('drops a container from the rules when it is removed, and rebuilds them (stale ones gone) after an agent restart', async () => {
    const extra = await startServer(teamA);
    expect(allowed(rulesText(), serverA.ip, extra.ip)).toBe(true);
    expect(allowed(rulesText(), serverA.ip, serverB.ip)).toBe(false);
    await bus.request(c.remove, { id: extra.id, force: true });
    expect(rulesText()).not.toContain(`${extra.ip}/32`);
    expect(rulesText()).not.toContain(` ${extra.ip}`);

    await agent.process.stop('SIGTERM');
    // A stale element a previous run might have left, and a hole no rule set of ours has.
    addStale();
    agent = await startAgentProcess(env(), agent.dataDir, agent.hostId);
    await waitForAgent(bus, agent.hostId);
    await eventually(async () => expect((await readyz()).details?.network).toContain(firewall), { timeoutMs: 20_000 });
    const rules = rulesText();
    expect(rules).not.toContain('10.89.79.250');
    expect(rules).toContain(serverA.ip);
    expect(await fetchFrom(teamA, `${serverB.ip}:8080`)).toMatch(/rc=1/);
    expect(await fetchFrom(teamB, `${serverB.ip}:8080`)).toMatch(/rc=0/);
  }, 60_000);
});
