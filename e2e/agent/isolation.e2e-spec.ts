import { BusClient } from '@muelle/bus';
import { ContainerSpecInput } from '@muelle/contracts';
import { RunningDistribution, startDistributionRegistry } from '@muelle/testing';
import { hostname } from 'node:os';
import { AgentUnderTest, connectBus, contractsFor, isRoot, newId, pushBusybox, session, startAgentProcess, waitForAgent } from './support';

/** Proof of isolation from inside containers the agent runs (root, real kernel, `npm run build`). */
const describeRoot = isRoot ? describe : describe.skip;

describeRoot('isolation of containers run by the agent', () => {
  let registry: RunningDistribution;
  let image: string;
  let bus: BusClient;
  let agent: AgentUnderTest;
  let c: ReturnType<typeof contractsFor>;

  /** Runs a shell script in a fresh container to exit; returns its exit code and stdout+stderr. */
  const probe = async (script: string, spec: Partial<ContainerSpecInput> = {}) => {
    const { id } = await bus.request(c.create, { id: newId(), name: `iso-${newId().slice(0, 8)}`, spec: { image, command: ['sh', '-c', script], ...spec } as never });
    await bus.request(c.start, { id });
    const result = await bus.request(c.wait, { id }, { timeoutMs: 30_000 });
    const output = (await bus.request(c.logs, { id })).lines.map((l) => l.line).join('');
    await bus.request(c.remove, { id, force: true });
    return { ...result, output };
  };

  beforeAll(async () => {
    registry = await startDistributionRegistry();
    image = pushBusybox(registry.url);
    bus = await connectBus();
    agent = await startAgentProcess({ MUELLE_REGISTRY_ADDRESS: new URL(registry.url).host, MUELLE_BRIDGE_NAME: 'muelle-iso0', MUELLE_BRIDGE_SUBNET: '10.89.78.0/24' });
    c = contractsFor(agent.hostId);
    await waitForAgent(bus, agent.hostId);
  }, 120_000);

  afterAll(async () => {
    await agent?.process.stop('SIGTERM');
    await bus?.close();
    await registry?.stop();
  }, 60_000);

  // Like `docker run` without --init: the entrypoint itself is PID 1 of the container.
  it('ps shows only the container processes and PID 1 is its entrypoint', async () => {
    // `echo` (a builtin) last, so the shell does not exec its final command and stays PID 1.
    const script = 'ps -o pid,args; tr "\\0" "|" < /proc/1/cmdline; echo';
    const r = await probe(script);
    const lines = r.output.trim().split('\n');
    const pids = lines.slice(1, -1).map((l) => Number(l.trim().split(' ')[0]));
    expect(pids).toEqual([1, 2]); // the entrypoint shell and its ps (busybox shows the applet as {ps})
    expect(r.output).toMatch(/^\s*1 sh -c ps -o pid,args/m);
    // No host path or helper name leaks through /proc/1/cmdline.
    expect(lines.at(-1)).toBe(`sh|-c|${script}|`);
    expect(r.output).not.toContain('muelle-isolate');
  }, 30_000);

  it('cannot see host files, has its own hostname and interfaces', async () => {
    const r = await probe('ls /work /etc/postgresql 2>&1; hostname; ls /sys/class/net | tr "\\n" " "', { hostname: 'isolated' });
    expect(r.output).toContain('No such file or directory');
    expect(r.output).toContain('isolated');
    expect(r.output).not.toContain(hostname());
    expect(r.output).toMatch(/eth0 lo/);
  }, 30_000);

  it("has Docker's default capabilities, NoNewPrivs, read-only /proc/sys, masked paths, unwritable cgroupfs", async () => {
    const r = await probe(
      'grep -E "CapEff|CapInh|CapAmb|NoNewPrivs" /proc/self/status; ' +
        '(echo 1 > /proc/sys/kernel/acct) 2>/dev/null && echo procsys-writable || echo procsys-ro; grep " /proc/sys " /proc/mounts; ' +
        'echo timer_list=$(wc -c < /proc/timer_list) keys=$(wc -c < /proc/keys); ' +
        'mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg 2>/dev/null && echo cgroup-mounted || echo cgroup-refused; ' +
        '(echo 1 > /sys/fs/cgroup/x) 2>/dev/null && echo cgroupfs-writable || echo cgroupfs-ro; hostname other 2>/dev/null && echo hostname-changed || echo hostname-refused',
    );
    expect(r.output).toContain('CapEff:\t00000000a80425fb');
    expect(r.output).toContain('CapInh:\t0000000000000000');
    expect(r.output).toContain('CapAmb:\t0000000000000000');
    expect(r.output).toContain('NoNewPrivs:\t1');
    expect(r.output).toContain('procsys-ro');
    expect(r.output).toMatch(/ \/proc\/sys proc ro,/);
    expect(r.output).toContain('timer_list=0 keys=0');
    expect(r.output).toContain('cgroup-refused');
    expect(r.output).toContain('cgroupfs-ro');
    expect(r.output).toContain('hostname-refused');
  }, 30_000);

  it("has Docker's seccomp filter and device policy: no new user namespace, mknod works but a host disk does not open", async () => {
    const r = await probe('grep ^Seccomp: /proc/self/status; unshare -U -r id || echo unshare-refused; mknod /dev/l0 b 7 0 && echo mknod-ok; dd if=/dev/l0 of=/dev/null count=1');
    expect(r.output).toMatch(/^Seccomp:\s+2$/m);
    expect(r.output).toContain('unshare-refused');
    expect(r.output).toContain('mknod-ok');
    expect(r.output).toMatch(/can't open '\/dev\/l0': Operation not permitted/);
    const unconfined = await probe('grep ^Seccomp: /proc/self/status', { security: { seccomp: 'unconfined' } });
    expect(unconfined.output).toMatch(/^Seccomp:\s+0$/m);
  }, 30_000);

  it('applies --read-only, --ulimit and --cap-drop ALL', async () => {
    const ro = await probe('touch /x; echo "root=$?"; touch /dev/shm/x; echo "shm=$?"; ulimit -n', { security: { readOnly: true, ulimits: [{ name: 'nofile', soft: 64, hard: 64 }] } });
    expect(ro.output).toMatch(/touch: \/x: Read-only file system/);
    expect(ro.output).toContain('root=1');
    expect(ro.output).toContain('shm=0');
    expect(ro.output).toMatch(/^64$/m);
    const noCaps = await probe('chown 1 /etc/passwd; echo "chown=$?"; grep ^CapEff /proc/self/status', { security: { capDrop: ['ALL'] } });
    expect(noCaps.output).toContain('chown=1');
    expect(noCaps.output).toMatch(/CapEff:\s+0000000000000000/);
  }, 30_000);

  it("an exec gets the container's capabilities and seccomp setting, like docker exec", async () => {
    const execStatus = async (security: Partial<ContainerSpecInput['security']>) => {
      const { id } = await bus.request(c.create, { id: newId(), name: `exec-${newId().slice(0, 8)}`, spec: { image, command: ['sleep', '300'], security } as never });
      await bus.request(c.start, { id });
      const e = await bus.request(c.execCreate, { containerId: id, cmd: ['sh', '-c', 'grep -E "^(CapEff|Seccomp):" /proc/self/status'] });
      const r = await session(bus, (streamId) => bus.request(c.execStart, { execId: e.execId, streamId }));
      await bus.request(c.remove, { id, force: true });
      return r.stdout;
    };
    const confined = await execStatus({ capDrop: ['ALL'], capAdd: ['CHOWN'] });
    expect(confined).toMatch(/CapEff:\s+0000000000000001/);
    expect(confined).toMatch(/Seccomp:\s+2/);
    expect(await execStatus({ seccomp: 'unconfined' })).toMatch(/Seccomp:\s+0/);
  }, 30_000);

  it('stops a fork bomb at the pids limit', async () => {
    const r = await probe('i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); echo forked $i; done', { resources: { pidsLimit: 32 } });
    const forked = Math.max(...[...r.output.matchAll(/forked (\d+)/g)].map((m) => Number(m[1])));
    expect(forked).toBeGreaterThan(20);
    expect(forked).toBeLessThan(32);
    expect(r.output).toMatch(/can't fork|Resource temporarily unavailable/);
    expect(r.exitCode).not.toBe(0);
  }, 30_000);

  it('throttles a CPU quota', async () => {
    const { id } = await bus.request(c.create, { id: newId(), name: `cpu-${newId().slice(0, 8)}`, spec: { image, command: ['sh', '-c', 'while true; do :; done'], resources: { cpus: 0.2 } } as never });
    await bus.request(c.start, { id });
    const a = await bus.request(c.stats, { id });
    await new Promise((r) => setTimeout(r, 1500));
    const b = await bus.request(c.stats, { id });
    const share = (b.cpuUsageNs - a.cpuUsageNs) / (Date.parse(b.at) - Date.parse(a.at)) / 1e6;
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.3);
    await bus.request(c.remove, { id, force: true });
  }, 30_000);
});
