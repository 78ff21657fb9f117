import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostDevices } from './network-leftovers';
import { tableName } from './rules';
import { UserNetworks } from './user-networks';

/**
 * A removed network's devices on a real kernel (root; run under `flock /tmp/muelle-kernel.lock`).
 * The devices are made in this process's namespace, as the agent makes them, with names no agent
 * uses (id prefix c0ffee12…); the live list handed to prune holds every other network device
 * present, so nothing but this test's devices can be taken. No addresses: range 10.89.140.0/24 is
 * named for the record only.
 */
const isRoot = process.getuid?.() === 0;
const hasTools = spawnSync('nft', ['--version']).status === 0;
const describeKernel = isRoot && hasTools ? describe : describe.skip;

const GONE = 'c0ffee1201'.padEnd(64, 'a');
const BUSY = 'c0ffee1202'.padEnd(64, 'b');
const BRIDGE = UserNetworks.bridgeName(GONE);
const VXLAN = `mx${GONE.slice(0, 10)}`;
const BUSY_BRIDGE = UserNetworks.bridgeName(BUSY);
const VETH = 'vmc0ffee12';

const sh = (args: string[]) => {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
};
const tables = () => sh(['nft', 'list', 'tables']);

function tearDown() {
  for (const dev of [VXLAN, BRIDGE, VETH, BUSY_BRIDGE]) spawnSync('ip', ['link', 'del', dev]);
  for (const b of [BRIDGE, BUSY_BRIDGE]) spawnSync('nft', ['delete', 'table', 'inet', tableName(b)]);
}

/** Every network device on the host but this test's, as metadata's live ids (padded prefixes). */
const othersLive = async () =>
  (await hostDevices()).filter((d) => /^m[nx][0-9a-f]{10}$/.test(d) && !d.startsWith('mnc0ffee12') && !d.startsWith('mxc0ffee12')).map((d) => d.slice(2).padEnd(64, '0'));

describeKernel('a removed network on a real kernel', () => {
  let dir: string;

  beforeAll(() => {
    tearDown();
    dir = mkdtempSync(join(tmpdir(), 'muelle-leftovers-'));
    sh(['ip', 'link', 'add', BRIDGE, 'type', 'bridge']);
    sh(['ip', 'link', 'add', VXLAN, 'type', 'vxlan', 'id', '16000001', 'dstport', '4789', 'nolearning']);
    sh(['ip', 'link', 'set', VXLAN, 'master', BRIDGE]);
    sh(['nft', 'add', 'table', 'inet', tableName(BRIDGE)]);
    writeFileSync(join(dir, `${BRIDGE}.ipam.json`), '{}');
    // A bridge a container's veth still holds.
    sh(['ip', 'link', 'add', BUSY_BRIDGE, 'type', 'bridge']);
    sh(['ip', 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', `${VETH}p`]);
    sh(['ip', 'link', 'set', VETH, 'master', BUSY_BRIDGE]);
    sh(['nft', 'add', 'table', 'inet', tableName(BUSY_BRIDGE)]);
  });

  afterAll(() => {
    tearDown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prune takes the VXLAN device, rule table, bridge and address file of a network metadata no longer records, and keeps a bridge with a port', async () => {
    const networks = new UserNetworks(dir, 'nftables');
    const removed = await networks.prune(othersLive);
    expect(removed).toEqual([BRIDGE]);
    const devices = await hostDevices();
    expect(devices).not.toContain(BRIDGE);
    expect(devices).not.toContain(VXLAN);
    expect(tables()).not.toContain(tableName(BRIDGE));
    expect(existsSync(join(dir, `${BRIDGE}.ipam.json`))).toBe(false);
    expect(devices).toContain(BUSY_BRIDGE);
    expect(tables()).toContain(tableName(BUSY_BRIDGE));
  });

  it('remove (the removal event) takes a bridge once its last port is gone, and is a no-op when nothing is left', async () => {
    const networks = new UserNetworks(dir, 'nftables');
    await expect(networks.remove(BUSY)).resolves.toBe('in-use');
    sh(['ip', 'link', 'del', VETH]);
    await expect(networks.remove(BUSY)).resolves.toBe('removed');
    expect(await hostDevices()).not.toContain(BUSY_BRIDGE);
    expect(tables()).not.toContain(tableName(BUSY_BRIDGE));
    await expect(networks.remove(BUSY)).resolves.toBe('removed');
  });
});
