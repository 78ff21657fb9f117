import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkEndpoint } from '@muelle/contracts';
import { ExtraNetworks } from './extra-networks';
import { attachLive, containerInterfaces, detachLive, liveHostInterface, nextInterfaceName } from './live-endpoint';
import { LiveNetworks } from './live-networks';
import { tableName } from './rules';
import { UserNetworks } from './user-networks';

/**
 * Live connect/disconnect on a real kernel (root; run under `flock /tmp/muelle-kernel.lock`): two
 * "containers" are network namespaces this test makes, each with a process in it (a running
 * container's pid). Each is wired into a bridge (no address: the host stays out of the test) on
 * range 10.89.141.0/24, gets an ARP answer from the other, and no longer does once disconnected.
 */
const isRoot = process.getuid?.() === 0;
const hasTools = spawnSync('busybox', ['arping', '--help']).error === undefined && spawnSync('nsenter', ['--version']).status === 0;
const describeKernel = isRoot && hasTools ? describe : describe.skip;

const BRIDGE = 'mlivebr141';
const NET = '9'.repeat(64);
/** A team network as the agent makes it (UserNetworks: bridge mnc0ffee1412, its own nft table), internal: no NAT, range 10.89.142.0/24. */
const TEAM_NET = 'c0ffee1412'.padEnd(64, 'd');
const TEAM_BRIDGE = UserNetworks.bridgeName(TEAM_NET);
const teamEndpoint = (address: string): NetworkEndpoint => ({ id: TEAM_NET, name: 'live-team', driver: 'bridge', subnet: '10.89.142.0/24', gateway: '10.89.142.1', internal: true, address });
const containers = [
  { ns: 'mlive-141a', id: 'a'.repeat(64), ip: '10.89.141.2', mac: '02:42:0a:59:8d:02' },
  { ns: 'mlive-141b', id: 'b'.repeat(64), ip: '10.89.141.3', mac: '02:42:0a:59:8d:03' },
];

const sh = (args: string[]) => {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};
/** An ARP answer over the bridge: the wiring, not the host's firewall (other tables in this namespace filter forwarded IP). */
const reaches = (from: string, to: string) => spawnSync('ip', ['netns', 'exec', from, 'busybox', 'arping', '-c', '1', '-w', '1', '-I', 'eth0', to]).status === 0;

function tearDown() {
  for (const c of containers) spawnSync('ip', ['netns', 'del', c.ns]);
  for (const c of containers) for (const n of [NET, '8'.repeat(64), TEAM_NET]) spawnSync('ip', ['link', 'del', liveHostInterface(c.id, n)]);
  spawnSync('ip', ['link', 'del', BRIDGE]);
  spawnSync('ip', ['link', 'del', TEAM_BRIDGE]);
  spawnSync('nft', ['delete', 'table', 'inet', tableName(TEAM_BRIDGE)]);
}

describeKernel('live network connect/disconnect in a real namespace', () => {
  const sleepers: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'muelle-live-'));

  beforeAll(async () => {
    tearDown();
    sh(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    sh(['ip', 'link', 'set', BRIDGE, 'up']);
    for (const c of containers) {
      sh(['ip', 'netns', 'add', c.ns]);
      sh(['ip', 'netns', 'exec', c.ns, 'ip', 'link', 'set', 'lo', 'up']);
      // `ip netns exec` execs sleep, so the child's pid is a process inside the namespace.
      sleepers.push(spawn('ip', ['netns', 'exec', c.ns, 'sleep', '60'], { stdio: 'ignore' }));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  });

  afterAll(() => {
    for (const s of sleepers) s.kill('SIGKILL');
    tearDown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds eth0/eth1… in the namespace, joined to the bridge with the network MAC and MTU, reachable, and removes them again', async () => {
    for (const [i, c] of containers.entries()) {
      const pid = sleepers[i]!.pid!;
      const ifName = nextInterfaceName(await containerInterfaces(pid));
      expect(ifName).toBe('eth0');
      await attachLive(pid, { bridge: BRIDGE, hostInterface: liveHostInterface(c.id, NET), ifName, macAddress: c.mac, address: `${c.ip}/24`, mtu: 1400 });
      expect(await containerInterfaces(pid)).toEqual(['lo', 'eth0']);
      expect(nextInterfaceName(await containerInterfaces(pid))).toBe('eth1');
    }
    const inside = sh(['ip', 'netns', 'exec', containers[0]!.ns, 'ip', '-o', 'link', 'show', 'eth0']);
    expect(inside).toContain(containers[0]!.mac);
    expect(inside).toContain('mtu 1400');
    expect(sh(['ip', '-o', 'link', 'show', 'master', BRIDGE])).toContain(liveHostInterface(containers[0]!.id, NET));
    expect(reaches(containers[0]!.ns, containers[1]!.ip)).toBe(true);

    await detachLive(liveHostInterface(containers[1]!.id, NET));
    expect(await containerInterfaces(sleepers[1]!.pid!)).toEqual(['lo']);
    expect(reaches(containers[0]!.ns, containers[1]!.ip)).toBe(false);
    await expect(detachLive(liveHostInterface(containers[1]!.id, NET))).resolves.toBeUndefined();
    // Pings and `ip` calls in namespaces: seconds on a loaded CI machine (5 s ran out once).
  }, 30_000);

  it('leaves nothing behind when the namespace refuses the address (a half-made pair is removed)', async () => {
    const c = containers[1]!;
    const host = liveHostInterface(c.id, '8'.repeat(64));
    await expect(attachLive(sleepers[1]!.pid!, { bridge: BRIDGE, hostInterface: host, ifName: 'eth5', macAddress: c.mac, address: 'not-an-address/24' })).rejects.toThrow(/not-an-address/);
    expect(spawnSync('ip', ['link', 'show', 'dev', host]).status).not.toBe(0);
    expect(await containerInterfaces(sleepers[1]!.pid!)).toEqual(['lo']);
  });

  // After the cases above: container a has eth0 on the test bridge, b has no interface left.
  it('network connect of a running container: eth1 on the team bridge with its address, a peer reachable, all gone after disconnect', async () => {
    const [a, b] = containers as [(typeof containers)[0], (typeof containers)[0]];
    const [pidA, pidB] = [sleepers[0]!.pid!, sleepers[1]!.pid!];
    const extra = new ExtraNetworks(new UserNetworks(dir, 'nftables'));
    const live = new LiveNetworks(() => extra);
    const first: NetworkEndpoint = { id: NET, name: 'live-first', address: a.ip };
    // The peer: b joins the team network the same way.
    await extra.joinOne(b.id, pidB, teamEndpoint('10.89.142.3'), nextInterfaceName(await containerInterfaces(pidB)));
    const running = { id: a.id, state: 'running', initPid: pidA, spec: { network: 'bridge' as const, networks: [first] } };

    expect(await live.connect(running, teamEndpoint('10.89.142.2'))).toEqual([first, teamEndpoint('10.89.142.2')]);
    expect(await containerInterfaces(pidA)).toEqual(['lo', 'eth0', 'eth1']);
    expect(sh(['ip', 'netns', 'exec', a.ns, 'ip', '-o', '-4', 'addr', 'show', 'eth1'])).toContain('10.89.142.2/24');
    expect(sh(['ip', '-o', 'link', 'show', 'master', TEAM_BRIDGE])).toContain(liveHostInterface(a.id, TEAM_NET));
    const ping = () => spawnSync('ip', ['netns', 'exec', a.ns, 'busybox', 'ping', '-c', '1', '-W', '1', '10.89.142.3']).status === 0;
    expect(ping()).toBe(true);

    expect(await live.disconnect({ ...running, spec: { network: 'bridge', networks: [first, teamEndpoint('10.89.142.2')] } }, TEAM_NET)).toEqual([first]);
    expect(await containerInterfaces(pidA)).toEqual(['lo', 'eth0']);
    expect(ping()).toBe(false);
    expect(spawnSync('ip', ['link', 'show', 'dev', liveHostInterface(a.id, TEAM_NET)]).status).not.toBe(0);
    // Nothing of the network is left on the host once its last container left.
    await extra.leaveOne(b.id, teamEndpoint('10.89.142.3'));
    await expect(new UserNetworks(dir, 'nftables').remove(TEAM_NET)).resolves.toBe('removed');
    expect(spawnSync('ip', ['link', 'show', 'dev', TEAM_BRIDGE]).status).not.toBe(0);
    expect(sh(['nft', 'list', 'tables'])).not.toContain(tableName(TEAM_BRIDGE));
  }, 30_000);
});
