import { eventually, getJson } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { muelle } from './cli';
import { SimulatedNetwork } from './netns';
import { adminAuth, ADMIN_PASSWORD, logsOf, Platform, startPlatform } from './platform';

const network = new SimulatedNetwork('mcp0', '10.231.7', [
  { name: 'mcp-host-a', address: '10.231.7.11' },
  { name: 'mcp-host-b', address: '10.231.7.12' },
  { name: 'mcp-host-c', address: '10.231.7.13' },
]);
const [hostA, hostB, hostC] = network.hosts;
const hostIds = { [hostA.name]: 'host-a', [hostB.name]: 'host-b', [hostC.name]: 'host-c' };

/**
 * Three agents as three hosts, each in its own network namespace with its own address, sharing
 * one control plane (NATS + PostgreSQL): spreading, published ports per host, exec on a chosen
 * host, and a host going down with its `--restart always` container moved elsewhere.
 */
(SimulatedNetwork.available() ? describe : describe.skip)('three hosts in three network namespaces', () => {
  let platform: Platform;
  let env: Record<string, string>;

  const cli = async (...args: string[]) => {
    const result = await muelle(args, env);
    if (result.code !== 0) throw new Error(`muelle ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}\n${logsOf(platform)}`);
    return result.stdout;
  };
  const containers = async () => JSON.parse(await cli('ps', '-a', '--format', 'json')) as Array<{ id: string; name: string; hostId: string; state: string }>;

  beforeAll(async () => {
    network.setUp();
    platform = await startPlatform({ agents: [] });
    network.forwardLoopbackPort(platform.natsPort);
    network.forwardLoopbackPort(Number(platform.registryAddress.split(':')[1]));
    for (const host of network.hosts) {
      await platform.startAgent({ hostId: hostIds[host.name], netns: { name: host.name, address: host.address }, labels: `zone=${host.name.slice(-1)}` });
    }
    env = { HOME: mkdtempSync(join(tmpdir(), 'muelle-home-')), MUELLE_API: platform.api };
    await cli('login', '-u', 'admin', '-p', ADMIN_PASSWORD);
    await cli('pull', `${platform.other.host}/library/busybox:1`);
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
    network.tearDown();
  });

  it('registers three ready hosts with their own addresses', async () => {
    const hosts = JSON.parse(await cli('hosts', '--format', 'json'));
    expect(hosts.map((h: { id: string; address: string; state: string }) => [h.id, h.address, h.state])).toEqual([
      ['host-a', hostA.address, 'ready'],
      ['host-b', hostB.address, 'ready'],
      ['host-c', hostC.address, 'ready'],
    ]);
  });

  it('spreads containers across the hosts', async () => {
    for (let i = 0; i < 6; i++) await cli('run', '-d', '--name', `spread-${i}`, 'library/busybox:1', 'sleep', '3600');
    const placed = (await containers()).filter((c) => c.name.startsWith('spread-'));
    const perHost = placed.reduce<Record<string, number>>((acc, c) => ({ ...acc, [c.hostId]: (acc[c.hostId] ?? 0) + 1 }), {});
    expect(perHost).toEqual({ 'host-a': 2, 'host-b': 2, 'host-c': 2 });
    expect(placed.every((c) => c.state === 'running')).toBe(true);
    // No MUELLE_BRIDGE_SUBNET here: each host's bridge got its own /24 from metadata's address manager.
    const subnetOf = async (id: string) => (JSON.parse(await cli('inspect', id))[0].runtime.ipAddress as string).replace(/\.\d+$/, '.0/24');
    const subnets: Record<string, Set<string>> = {};
    for (const c of placed) (subnets[c.hostId] ??= new Set()).add(await subnetOf(c.id));
    expect(Object.values(subnets).map((s) => s.size)).toEqual([1, 1, 1]);
    expect(new Set(Object.values(subnets).map((s) => [...s][0])).size).toBe(3);
  }, 120_000);

  it("serves a container on host B at host B's address and published port", async () => {
    await cli(
      'run',
      '-d',
      '--host',
      'host-b',
      '-p',
      '8080:8080',
      '--name',
      'web-b',
      'library/busybox:1',
      'sh',
      '-c',
      'mkdir -p /w && hostname > /w/index.html && exec httpd -f -p 8080 -h /w',
    );
    const body = await eventually(async () => (await fetch(`http://${hostB.address}:8080/`, { signal: AbortSignal.timeout(2_000) })).text(), { timeoutMs: 30_000 });
    expect(body.trim().length).toBeGreaterThan(0);
    // Not published on the other hosts.
    await expect(fetch(`http://${hostA.address}:8080/`, { signal: AbortSignal.timeout(1_500) })).rejects.toThrow();
  }, 60_000);

  it('runs exec in a container on host C (constraint placement)', async () => {
    const id = (await cli('run', '-d', '--constraint', 'zone=c', '--name', 'on-c', 'library/busybox:1', 'sleep', '3600')).trim();
    const inspected = JSON.parse(await cli('inspect', id))[0];
    expect(inspected.hostId).toBe('host-c');
    const result = await muelle(['exec', 'on-c', 'sh', '-c', 'echo from-c; exit 7'], env);
    expect(result.stdout).toContain('from-c');
    expect(result.code).toBe(7);
  }, 60_000);

  it('marks host A down when its agent dies and moves its --restart always container to another host', async () => {
    // Not pinned (a pinned container cannot move): cordoning B and C steers it onto A.
    await cli('hosts', 'cordon', 'host-b');
    await cli('hosts', 'cordon', 'host-c');
    const id = (await cli('run', '-d', '--restart', 'always', '--name', 'survivor', 'library/busybox:1', 'sleep', '3600')).trim();
    await cli('hosts', 'uncordon', 'host-b');
    await cli('hosts', 'uncordon', 'host-c');
    const before = (await containers()).find((c) => c.id === id)!;
    expect(before.hostId).toBe('host-a');
    await platform.agents.get('host-a')!.stop('SIGKILL');
    await eventually(
      async () => {
        const host = await getJson(`${platform.api}/v1/hosts/host-a`, { headers: adminAuth });
        if (host.body.state !== 'down') throw new Error(`host-a is ${host.body.state}`);
      },
      { timeoutMs: 30_000 },
    );
    const moved = await eventually(
      async () => {
        const record = (await containers()).find((c) => c.id === id);
        if (!record || record.hostId === 'host-a' || record.state !== 'running') throw new Error(`survivor: ${JSON.stringify(record)}`);
        return record;
      },
      { timeoutMs: 45_000 },
    );
    expect(['host-b', 'host-c']).toContain(moved.hostId);
  }, 120_000);
});
