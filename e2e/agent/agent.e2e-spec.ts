import { BusClient, Frame } from '@muelle/bus';
import { ContainerSpecInput, ContainerStateChange, containerStateChanged } from '@muelle/contracts';
import { RunningDistribution, startDistributionRegistry, eventually } from '@muelle/testing';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentUnderTest, connectBus, contractsFor, hostAddress, isRoot, newId, pushBusybox, session, startAgentProcess, udpRoundTrip, waitForAgent } from './support';

/**
 * A real agent process (dist/apps/agent) on real NATS, driven only through its bus contracts,
 * running containers with the real kernel. Needs root, `npm run build`, and
 * apt-get install docker-registry skopeo busybox-static iproute2 iptables util-linux.
 */
const describeRoot = isRoot ? describe : describe.skip;

describeRoot('agent process on NATS', () => {
  let registry: RunningDistribution;
  let image: string;
  let bus: BusClient;
  let agent: AgentUnderTest;
  let c: ReturnType<typeof contractsFor>;
  const events: ContainerStateChange[] = [];
  let unsubscribe: () => void;
  const env = (extra: Record<string, string> = {}) => ({
    MUELLE_REGISTRY_ADDRESS: new URL(registry.url).host,
    MUELLE_BRIDGE_NAME: 'muelle-e2e0',
    MUELLE_BRIDGE_SUBNET: '10.89.77.0/24',
    MUELLE_LOG_MAX_BYTES: '65536',
    MUELLE_LOG_MAX_FILES: '2',
    ...extra,
  });

  const create = async (spec: Partial<ContainerSpecInput> & { image?: string }, name = `c-${newId().slice(0, 8)}`) => {
    const id = newId();
    return bus.request(c.create, { id, name, spec: { image, ...spec } as never });
  };
  const run = async (spec: Partial<ContainerSpecInput>) => {
    const created = await create(spec);
    await bus.request(c.start, { id: created.id });
    return created.id;
  };
  const logsOf = async (id: string) => (await bus.request(c.logs, { id })).lines.map((l) => l.line).join('');

  beforeAll(async () => {
    registry = await startDistributionRegistry();
    image = pushBusybox(registry.url);
    bus = await connectBus();
    const streams = bus.streams();
    unsubscribe = streams.subscribe(containerStateChanged.subject, () => undefined);
    // Events go through the NestJS NATS envelope; decode loosely.
    unsubscribe();
    unsubscribe = streams.subscribe(containerStateChanged.subject, (data) => {
      try {
        const body = JSON.parse(Buffer.from(data).toString());
        events.push((body.data ?? body) as ContainerStateChange);
      } catch {
        // not JSON
      }
    });
    agent = await startAgentProcess(env());
    c = contractsFor(agent.hostId);
    await waitForAgent(bus, agent.hostId);
  }, 120_000);

  afterAll(async () => {
    if (bus && c) {
      for (const item of (await bus.request(c.list, {}).catch(() => ({ items: [] }))).items) await bus.request(c.remove, { id: item.id, force: true }).catch(() => undefined);
    }
    unsubscribe?.();
    await agent?.process.stop('SIGTERM');
    await bus?.close();
    await registry?.stop();
  }, 60_000);

  it('pulls the image, runs a container to exit, stores its output and reports every state', async () => {
    const id = await run({ command: ['sh', '-c', 'echo hello from $(hostname); echo oops >&2; exit 3'], hostname: 'box1' });
    const result = await bus.request(c.wait, { id }, { timeoutMs: 20_000 });
    expect(result).toEqual({ exitCode: 3, oomKilled: false });
    const info = await bus.request(c.inspect, { id });
    expect(info).toMatchObject({ state: 'exited', exitCode: 3, pid: null });
    expect(info.imageDigest).toMatch(/^sha256:/);
    const logs = (await bus.request(c.logs, { id })).lines;
    expect(logs).toEqual(expect.arrayContaining([
      expect.objectContaining({ stream: 'stdout', line: 'hello from box1\n' }),
      expect.objectContaining({ stream: 'stderr', line: 'oops\n' }),
    ]));
    await eventually(async () => {
      const states = events.filter((e) => e.id === id).map((e) => e.state);
      expect(states).toEqual(expect.arrayContaining(['created', 'running', 'exited']));
      expect(events.find((e) => e.id === id && e.state === 'exited')?.exitCode).toBe(3);
    }, { timeoutMs: 5000 });
    const images = await bus.request(c.listImages, {});
    expect(images.images.some((i) => i.digest === info.imageDigest && i.usedBy.includes(id))).toBe(true);
  }, 60_000);

  it('refuses bad specs before creating anything', async () => {
    const before = readdirSync(join(agent.dataDir, 'containers')).length;
    await expect(create({ command: ['/no/such/binary'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(create({ user: 'nobody-here' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(create({ command: ['true'], volumes: [{ kind: 'bind', source: '/does/not/exist', target: '/data' }] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(create({ image: `${new URL(registry.url).host}/missing:latest` })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(readdirSync(join(agent.dataDir, 'containers')).length).toBe(before);
  }, 30_000);

  it('stops a container that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const id = await run({ command: ['sh', '-c', "trap '' TERM; echo ready; while true; do sleep 1; done"] });
    await eventually(async () => expect(await logsOf(id)).toContain('ready'));
    const started = Date.now();
    const stopped = await bus.request(c.stop, { id, timeoutSeconds: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(stopped).toMatchObject({ state: 'exited', exitCode: 137, stoppedByUser: true });
  }, 30_000);

  it('with init: true runs a tiny init as PID 1, so the entrypoint gets SIGTERM like any process', async () => {
    const id = await run({ init: true, command: ['sh', '-c', 'echo "pid1=$(tr "\\0" " " < /proc/1/cmdline)"; echo "self=$$"; sleep 300'] });
    await eventually(async () => expect(await logsOf(id)).toContain('self='));
    expect((await bus.request(c.inspect, { id })).spec.init).toBe(true);
    const logs = await logsOf(id);
    expect(logs).toMatch(/^pid1=muelle-init/m);
    expect(logs).toMatch(/^self=(\d+)$/m);
    expect(logs).not.toMatch(/^self=1$/m);
    // A PID 1 shell would ignore SIGTERM until the grace period ends; as PID 2 it dies at once.
    const started = Date.now();
    const stopped = await bus.request(c.stop, { id, timeoutSeconds: 20 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stopped).toMatchObject({ state: 'exited', exitCode: 143 });
    const plain = await run({ command: ['sh', '-c', 'echo "self=$$"'] });
    await bus.request(c.wait, { id: plain });
    expect(await logsOf(plain)).toBe('self=1\n');
    for (const x of [id, plain]) await bus.request(c.remove, { id: x });
  }, 40_000);

  it('execs with and without a tty, streaming over the bus', async () => {
    const id = await run({ command: ['sleep', '300'] });
    const plain = await bus.request(c.execCreate, { containerId: id, cmd: ['sh', '-c', 'echo out; echo err >&2; ps -o pid,args | wc -l; exit 4'] });
    const r1 = await session(bus, (streamId) => bus.request(c.execStart, { execId: plain.execId, streamId }));
    expect(r1.stdout).toContain('out\n');
    expect(r1.stderr).toBe('err\n');
    expect(r1.exit).toEqual({ exitCode: 4 });
    expect((await bus.request(c.execInspect, { execId: plain.execId })).exitCode).toBe(4);

    const tty = await bus.request(c.execCreate, { containerId: id, cmd: ['sh'], tty: true, attachStdin: true });
    const r2 = await session(bus, (streamId) => bus.request(c.execStart, { execId: tty.execId, streamId, terminalSize: { rows: 33, cols: 99 } }), [
      [Frame.Stdin, 'stty size; tty; exit 7\n'],
    ]);
    expect(r2.stdout).toContain('33 99');
    expect(r2.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r2.exit).toEqual({ exitCode: 7 });
    await bus.request(c.remove, { id, force: true });
  }, 40_000);

  it('follows logs until the container exits, with timestamps', async () => {
    const id = await run({ command: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.2; done'] });
    const followed = await session(bus, (streamId) => bus.request(c.logs, { id, follow: true, timestamps: true, streamId }));
    expect(followed.stdout).toMatch(/^\d{4}-\d\d-\d\dT[^ ]+Z line1\n.*line2\n.*line3\n$/s);
    expect(followed.exit).toEqual({ exitCode: 0 });
  }, 30_000);

  it('rotates a log that fills up', async () => {
    const id = await run({ command: ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo "line $i padding padding padding"; i=$((i+1)); done'] });
    await bus.request(c.wait, { id }, { timeoutMs: 30_000 });
    const dir = join(agent.dataDir, 'containers', id, 'logs');
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['output.log', 'output.log.1']);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(65536);
    const tail = await bus.request(c.logs, { id, tail: 2 });
    expect(tail.lines.map((l) => l.line)).toEqual(['line 2998 padding padding padding\n', 'line 2999 padding padding padding\n']);
  }, 40_000);

  it('slows a container that floods its output instead of growing the agent (Docker behaviour)', async () => {
    const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agent.process.child.pid}/status`, 'utf8'))![1]) / 1024;
    const before = rssMiB();
    const started = Date.now();
    const flood = 'yes "a line of flood output padded to about sixty-four bytes...." & p=$!; sleep 8; kill $p; wait $p';
    const id = await run({ command: ['sh', '-c', flood] });
    let peak = before;
    while (Date.now() - started < 9_000) {
      peak = Math.max(peak, rssMiB());
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = await bus.request(c.wait, { id }, { timeoutMs: 20_000 });
    // `kill` ends `yes` with SIGTERM (exit 143); the record must say so within seconds, not minutes.
    expect(result.exitCode).toBe(143);
    expect(Date.now() - started).toBeLessThan(15_000);
    const inspected = await bus.request(c.inspect, { id });
    expect(inspected.state).toBe('exited');
    // Measured: ~30 MiB over the idle agent; before the queue was bounded it grew by gigabytes.
    expect(peak - before).toBeLessThan(150);
    // The last lines may be a line cut where `kill` stopped `yes` and the shell's "Terminated".
    const tail = await bus.request(c.logs, { id, tail: 5 });
    expect(tail.lines.map((l) => l.line)).toContain('a line of flood output padded to about sixty-four bytes....\n');
  }, 40_000);

  it('gives a bridge container its own address, outbound route and published ports on 127.0.0.1', async () => {
    const id = await run({ command: ['sh', '-c', 'ip addr show eth0; while true; do echo -e "HTTP/1.0 200 OK\\r\\n\\r\\nhi from container" | nc -l -p 8080; done'], ports: [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 8080 }] });
    const info = await bus.request(c.inspect, { id });
    expect(info.ipAddress).toMatch(/^10\.89\.77\.\d+$/);
    expect(info.ports[0]?.hostPort).toBeGreaterThan(0);
    await eventually(async () => expect(await logsOf(id)).toContain(info.ipAddress as string));
    const reply = await eventually(async () => {
      const text = await new Promise<string>((resolvePromise, reject) => {
        const socket = connect(info.ports[0]?.hostPort as number, '127.0.0.1');
        let data = '';
        socket.on('data', (d) => (data += d));
        socket.on('end', () => resolvePromise(data));
        socket.on('error', reject);
        socket.write('GET / HTTP/1.0\r\n\r\n');
      });
      if (!text.includes('hi from container')) throw new Error(`got ${text}`);
      return text;
    }, { timeoutMs: 10_000 });
    expect(reply).toContain('hi from container');
    // A second container gets another address; network none has only lo.
    const other = await run({ command: ['sleep', '30'] });
    expect((await bus.request(c.inspect, { id: other })).ipAddress).not.toBe(info.ipAddress);
    const none = await run({ network: 'none', command: ['sh', '-c', 'ls /sys/class/net'] });
    await bus.request(c.wait, { id: none });
    expect((await logsOf(none)).trim()).toBe('lo');
    for (const x of [id, other, none]) await bus.request(c.remove, { id: x, force: true });
  }, 40_000);

  it('publishes a UDP port (like -p 5353:53/udp), reachable on 127.0.0.1 and on the host address', async () => {
    const tools = mkdtempSync(join(tmpdir(), 'agent-udp-'));
    execFileSync('gcc', ['-static', '-O2', '-o', join(tools, 'udp-echo'), join(__dirname, 'fixtures', 'udp-echo.c')]);
    const id = await run({
      // Through sh: create checks the entrypoint against the image layers, not against mounts.
      command: ['sh', '-c', 'exec /tools/udp-echo 53'],
      volumes: [{ kind: 'bind', source: tools, target: '/tools', readOnly: true }],
      ports: [{ hostPort: 0, containerPort: 53, protocol: 'udp' }],
    });
    const port = (await bus.request(c.inspect, { id })).ports[0];
    expect(port).toMatchObject({ hostIp: '0.0.0.0', containerPort: 53, protocol: 'udp' });
    const hostPort = port?.hostPort as number;
    expect(hostPort).toBeGreaterThan(0);
    await eventually(async () => expect(await logsOf(id)).toContain('listening'));
    for (const address of ['127.0.0.1', hostAddress()]) {
      expect(await eventually(() => udpRoundTrip(address, hostPort, `ping via ${address}`), { timeoutMs: 10_000 })).toBe(`echo:ping via ${address}`);
    }
    // Two clients at once each get their own replies.
    const replies = await Promise.all([udpRoundTrip('127.0.0.1', hostPort, 'a'), udpRoundTrip('127.0.0.1', hostPort, 'b')]);
    expect(replies).toEqual(['echo:a', 'echo:b']);
    await bus.request(c.remove, { id, force: true });
    await expect(udpRoundTrip('127.0.0.1', hostPort, 'after remove', 500)).rejects.toThrow(/no UDP reply/);
  }, 60_000);

  it('mounts bind and named volumes; a named volume outlives its container', async () => {
    const hostDir = mkdtempSync(join(tmpdir(), 'agent-bind-'));
    writeFileSync(join(hostDir, 'in.txt'), 'from host\n');
    const id = await run({
      command: ['sh', '-c', 'cat /in/in.txt; echo persisted > /vol/file; touch /in/x 2>/dev/null && echo rw || echo ro'],
      volumes: [
        { kind: 'bind', source: hostDir, target: '/in', readOnly: true },
        { kind: 'volume', source: 'e2e-data', target: '/vol' },
      ],
    });
    await bus.request(c.wait, { id });
    expect(await logsOf(id)).toBe('from host\nro\n');
    await bus.request(c.remove, { id });
    const reader = await run({ command: ['cat', '/vol/file'], volumes: [{ kind: 'volume', source: 'e2e-data', target: '/vol' }] });
    await bus.request(c.wait, { id: reader });
    expect(await logsOf(reader)).toBe('persisted\n');
    await expect(bus.request(c.removeVolume, { name: 'e2e-data' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await bus.request(c.remove, { id: reader });
    await bus.request(c.removeVolume, { name: 'e2e-data' });
    expect((await bus.request(c.listVolumes, {})).volumes.map((v) => v.name)).not.toContain('e2e-data');
  }, 40_000);

  it('restarts on failure up to the limit and records the count', async () => {
    const id = await run({ command: ['sh', '-c', 'echo try; exit 1'], restartPolicy: { name: 'on-failure', maxRetries: 2 } });
    await eventually(async () => {
      const info = await bus.request(c.inspect, { id });
      expect(info).toMatchObject({ state: 'exited', restartCount: 2, exitCode: 1 });
    }, { timeoutMs: 15_000 });
    expect((await logsOf(id)).match(/try/g)?.length).toBe(3);
  }, 30_000);

  it('reports an OOM kill', async () => {
    const id = await run({ command: ['sh', '-c', 'x=a; while true; do x=$x$x$x$x; done'], resources: { memoryBytes: 16 * 1024 * 1024 } });
    const result = await bus.request(c.wait, { id }, { timeoutMs: 30_000 });
    expect(result).toEqual({ exitCode: 137, oomKilled: true });
  }, 40_000);

  it('keeps containers running across an agent SIGKILL and re-adopts them; exits meanwhile are recorded', async () => {
    const longRunning = await run({ command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'] });
    const shortLived = await run({ command: ['sh', '-c', 'sleep 1; echo "last words"; exit 5'] });
    const startedBefore = (await bus.request(c.inspect, { id: shortLived })).startedAt as string;
    const pid = (await bus.request(c.inspect, { id: longRunning })).pid as number;
    // Its health check succeeds once, then fails (retries high: it stays healthy with a growing streak).
    const checked = await run({ command: ['sleep', '300'], healthcheck: { test: ['CMD-SHELL', 'test ! -f /probed || exit 1; touch /probed'], intervalMs: 300, retries: 1000 } });
    const healthBefore = await eventually(async () => {
      const health = (await bus.request(c.inspect, { id: checked })).health;
      expect(health).toMatchObject({ status: 'healthy', failingStreak: expect.any(Number) });
      expect(health!.failingStreak).toBeGreaterThanOrEqual(1);
      return health!;
    });
    agent.process.child.kill('SIGKILL');
    await agent.process.exited;
    await new Promise((r) => setTimeout(r, 2000));
    const agentBack = Date.now();
    expect(existsSync(`/proc/${pid}`)).toBe(true); // the container outlived the agent
    agent = await startAgentProcess(env(), agent.dataDir, agent.hostId);
    await waitForAgent(bus, agent.hostId);
    expect(await bus.request(c.inspect, { id: longRunning })).toMatchObject({ state: 'running', pid });
    // The re-adopted container's health goes on from where the killed agent left it: same status, streak and probes.
    const healthAfter = (await bus.request(c.inspect, { id: checked })).health!;
    expect(healthAfter.status).toBe('healthy');
    expect(healthAfter.failingStreak).toBeGreaterThanOrEqual(healthBefore.failingStreak);
    expect(healthAfter.log.map((p) => p.start)).toEqual(expect.arrayContaining([healthBefore.log.at(-1)!.start]));
    const exited = await bus.request(c.inspect, { id: shortLived });
    expect(exited).toMatchObject({ state: 'exited', exitCode: 5 });
    // Its own times, from the helper's exit record: not the agent's return.
    expect(Math.abs(Date.parse(exited.startedAt as string) - Date.parse(startedBefore))).toBeLessThan(1000);
    expect(Date.parse(exited.finishedAt as string)).toBeLessThan(agentBack);
    // What it printed while no agent ran is in its log: the helper wrote it.
    expect(await logsOf(shortLived)).toBe('last words\n');
    // Output written while no agent was there was buffered and still arrives; logs keep flowing.
    const before = (await logsOf(longRunning)).match(/tick/g)?.length ?? 0;
    await eventually(async () => expect((await logsOf(longRunning)).match(/tick/g)?.length ?? 0).toBeGreaterThan(before + 3));
    expect(await logsOf(longRunning)).toMatch(/tick 0\n(tick \d+\n)*tick 15\n/);
    const stopped = await bus.request(c.stop, { id: longRunning, timeoutSeconds: 5 });
    expect(stopped.state).toBe('exited');
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  }, 60_000);

  it('leaves its containers alone when another agent (another data dir) starts on the same machine', async () => {
    const id = await run({ command: ['sleep', '300'] });
    const pid = (await bus.request(c.inspect, { id })).pid as number;
    // The neighbour's startup removes the cgroups it has no record of; ours must not be among them.
    const neighbour = await startAgentProcess(env());
    try {
      await waitForAgent(bus, neighbour.hostId);
    } finally {
      await neighbour.process.stop('SIGTERM');
    }
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    expect(await bus.request(c.inspect, { id })).toMatchObject({ state: 'running', pid });
    await bus.request(c.remove, { id, force: true });
  }, 60_000);
});
