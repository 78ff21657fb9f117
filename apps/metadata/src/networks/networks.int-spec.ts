import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { allocateHostSubnet, cidrsOverlap, ConflictError, connectContainerNetwork, containerStateChanged, disconnectContainerNetwork, InvalidArgumentError, ContainerSpec, createNetwork, createTeam, deleteContainerRecord, deleteNetwork, getNetwork, InvalidMessageError, listNetworks, networkNames, NotFoundError, overlayPeers, recordContainer, registerHost, createService, SERVICE_ID_LABEL, ServiceSpec } from '@muelle/contracts';
import { randomBytes, randomUUID } from 'node:crypto';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';

/** Teams' networks over the bus, on a real PostgreSQL database of their own. */
describe('networks in metadata (PostgreSQL)', () => {
  let running: RunningService;
  let bus: BusClient;
  let drop: (() => Promise<void>) | undefined;
  let teamA: string;
  let teamB: string;

  beforeAll(async () => {
    const broker = new InProcessBroker();
    const db = await createTestDatabase();
    drop = db.drop;
    const config = z
      .object(metadataConfigShape)
      .parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-net-')), MUELLE_ADMIN_PASSWORD: 'correct-horse', DATABASE_URL: db.url });
    running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
    teamA = (await bus.request(createTeam, { name: 'net-a' })).id;
    teamB = (await bus.request(createTeam, { name: 'net-b' })).id;
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('gives each network a /24 of the pool, overlapping no host bridge and no other network', async () => {
    const host = await bus.request(allocateHostSubnet, { hostId: 'net-host', avoid: [] });
    const front = await bus.request(createNetwork, { name: 'front', teamId: teamA, driver: 'overlay' });
    const back = await bus.request(createNetwork, { name: 'back', teamId: teamA, driver: 'bridge', internal: true, labels: { tier: 'db' } });
    expect(front).toMatchObject({ name: 'front', teamId: teamA, driver: 'overlay', subnet: '10.90.0.0/24', gateway: '10.90.0.1', internal: false, labels: {} });
    expect(front.id).toMatch(/^[0-9a-f]{64}$/);
    expect(back).toMatchObject({ subnet: '10.90.1.0/24', internal: true, labels: { tier: 'db' } });
    for (const s of [host.subnet, front.subnet]) expect(cidrsOverlap(s, back.subnet)).toBe(false);
  });

  it('takes an asked subnet (normalised) and gateway, and refuses one that overlaps a host bridge or another network', async () => {
    const own = await bus.request(createNetwork, { name: 'own', teamId: teamA, driver: 'overlay', subnet: '172.28.5.77/24', gateway: '172.28.5.254' });
    expect(own).toMatchObject({ subnet: '172.28.5.0/24', gateway: '172.28.5.254' });
    await expect(bus.request(createNetwork, { name: 'clash', teamId: teamB, driver: 'overlay', subnet: '172.28.0.0/16' })).rejects.toThrow(/subnet 172\.28\.0\.0\/16 overlaps 172\.28\.5\.0\/24/);
    const host = await bus.request(allocateHostSubnet, { hostId: 'net-host', avoid: [] });
    await expect(bus.request(createNetwork, { name: 'clash', teamId: teamB, driver: 'overlay', subnet: host.subnet })).rejects.toThrow(ConflictError);
    // A refused create kept nothing: the name is still free.
    expect((await bus.request(createNetwork, { name: 'clash', teamId: teamB, driver: 'overlay' })).name).toBe('clash');
  });

  it('refuses predefined names, bad gateways, prefixes out of range and IPv6', async () => {
    for (const bad of [
      { name: 'bridge' },
      { name: 'g', subnet: '10.99.0.0/24', gateway: '10.98.0.1' },
      { name: 'g', gateway: '10.90.0.1' },
      { name: 'tiny', subnet: '10.99.0.0/30' },
      { name: 'v6', subnet: 'fd00::/64' },
      { name: 'bad name!' },
    ]) {
      await expect(bus.request(createNetwork, { teamId: teamA, driver: 'overlay', ...bad })).rejects.toThrow(InvalidMessageError);
    }
  });

  it('keeps one name per team, finds by name, id or id prefix within the team, and frees the subnet on delete', async () => {
    await expect(bus.request(createNetwork, { name: 'front', teamId: teamA, driver: 'overlay' })).rejects.toThrow(/a network named "front" already exists/);
    const other = await bus.request(createNetwork, { name: 'front', teamId: teamB, driver: 'overlay' });
    const mine = await bus.request(getNetwork, { ref: 'front', teamId: teamA });
    expect(mine.teamId).toBe(teamA);
    expect((await bus.request(getNetwork, { ref: other.id.slice(0, 12), teamId: teamB })).id).toBe(other.id);
    await expect(bus.request(getNetwork, { ref: other.id, teamId: teamA })).rejects.toThrow(NotFoundError);
    await expect(bus.request(getNetwork, { ref: 'front' })).rejects.toThrow(/names networks of several teams/);
    expect((await bus.request(listNetworks, { teamId: teamB })).items.map((n) => n.name)).toEqual(['clash', 'front']);
    expect(await bus.request(deleteNetwork, { id: other.id })).toEqual({ deleted: true });
    expect(await bus.request(deleteNetwork, { id: other.id })).toEqual({ deleted: false });
    const again = await bus.request(createNetwork, { name: 'again', teamId: teamB, driver: 'overlay', subnet: other.subnet });
    expect(again.subnet).toBe(other.subnet);
  });

  it('20 networks created at once get 20 distinct subnets', async () => {
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => bus.request(createNetwork, { name: `race-${i}`, teamId: teamB, driver: 'overlay' })));
    const subnets = made.map((n) => n.subnet);
    for (const s of subnets) for (const t of subnets) if (s !== t) expect(cidrsOverlap(s, t)).toBe(false);
  });

  it("gives each container an address of its network when recording it, refuses another team's network, and refuses removing a network that containers use", async () => {
    await bus.request(registerHost, { id: 'net-host', address: '10.0.0.1', capacity: { cpus: 2, memoryBytes: 1 << 30, diskBytes: 1 << 30 }, labels: {}, agentVersion: 'test' });
    const net = await bus.request(createNetwork, { name: 'apps', teamId: teamA, driver: 'overlay', subnet: '10.77.0.0/29', gateway: '10.77.0.1' });
    const record = (name: string, teamId: string) =>
      bus.request(recordContainer, { id: randomBytes(32).toString('hex'), name, teamId, hostId: 'net-host', spec: ContainerSpec.parse({ image: 'r/x', networks: [{ id: net.id, name: 'apps' }] }) });
    const first = await record('apps-1', teamA);
    const second = await record('apps-2', teamA);
    expect(first.spec.networks).toEqual([{ id: net.id, name: 'apps', driver: 'overlay', subnet: '10.77.0.0/29', gateway: '10.77.0.1', internal: false, address: '10.77.0.2' }]);
    expect(second.spec.networks[0]?.address).toBe('10.77.0.3');
    await expect(record('intruder', teamB)).rejects.toThrow(/no such network: apps/);
    await expect(bus.request(deleteNetwork, { id: net.id })).rejects.toThrow(/network apps has containers attached: apps-1, apps-2 \(remove them first\)/);
    // A freed address is handed out again; a full network says so.
    await bus.request(deleteContainerRecord, { id: first.id });
    expect((await record('apps-3', teamA)).spec.networks[0]?.address).toBe('10.77.0.2');
    for (const name of ['apps-4', 'apps-5', 'apps-6']) await record(name, teamA);
    await expect(record('apps-7', teamA)).rejects.toThrow(/network apps has no free address left \(10\.77\.0\.0\/29\)/);
  });

  it('connects a recorded container to one more network with the next free address, under the create-time rules, and disconnects it', async () => {
    const first = await bus.request(createNetwork, { name: 'conn-a', teamId: teamA, driver: 'overlay', subnet: '10.76.0.0/24' });
    const more = await bus.request(createNetwork, { name: 'conn-b', teamId: teamA, driver: 'bridge', subnet: '10.76.1.0/24' });
    const theirs = await bus.request(createNetwork, { name: 'conn-theirs', teamId: teamB, driver: 'overlay' });
    const record = (name: string, spec: object) => bus.request(recordContainer, { id: randomBytes(32).toString('hex'), name, teamId: teamA, hostId: 'net-host', spec: ContainerSpec.parse({ image: 'r/x', ...spec }) });
    await record('conn-peer', { networks: [{ id: more.id, name: 'conn-b' }] });
    const c = await record('conn-1', { networks: [{ id: first.id, name: 'conn-a' }] });
    const joined = await bus.request(connectContainerNetwork, { id: c.id, network: { id: more.id, name: 'conn-b', aliases: ['web', 'web'] } });
    expect(joined.spec.networks.map((n) => [n.name, n.address, n.aliases])).toEqual([['conn-a', '10.76.0.2', undefined], ['conn-b', '10.76.1.3', ['web']]]);
    await expect(bus.request(connectContainerNetwork, { id: c.id, network: { id: more.id, name: 'conn-b' } })).rejects.toThrow(/endpoint with name conn-1 already exists in network conn-b/);
    await expect(bus.request(connectContainerNetwork, { id: c.id, network: { id: theirs.id, name: 'conn-theirs' } })).rejects.toThrow(NotFoundError);
    // The first network carries the default route: it stays.
    await expect(bus.request(disconnectContainerNetwork, { id: c.id, networkId: first.id })).rejects.toThrow(/conn-a is the container's first network/);
    const left = await bus.request(disconnectContainerNetwork, { id: c.id, networkId: more.id });
    expect(left.spec.networks.map((n) => n.name)).toEqual(['conn-a']);
    await expect(bus.request(disconnectContainerNetwork, { id: c.id, networkId: more.id })).rejects.toThrow(new RegExp(`container ${c.id} is not connected to network conn-b`));
    // The rule of create (at most 8 networks) holds for connect too.
    const eight = await Promise.all(Array.from({ length: 8 }, (_, i) => bus.request(createNetwork, { name: `conn-many-${i}`, teamId: teamA, driver: 'bridge' })));
    for (const n of eight.slice(1)) await bus.request(connectContainerNetwork, { id: c.id, network: { id: n.id, name: n.name } });
    await expect(bus.request(connectContainerNetwork, { id: c.id, network: { id: eight[0]!.id, name: eight[0]!.name } })).rejects.toThrow(/a container joins at most 8 networks/);
    // Host and none containers have no interfaces of their own; one on the default bridge has no place for a second network.
    for (const [spec, why] of [
      [{ network: 'host' }, /sharing network namespace/],
      [{ network: 'none' }, /private \(none\) mode/],
      [{}, /is on the default bridge/],
    ] as const) {
      const other = await record(`conn-${randomBytes(3).toString('hex')}`, spec);
      await expect(bus.request(connectContainerNetwork, { id: other.id, network: { id: more.id, name: 'conn-b' } })).rejects.toThrow(InvalidArgumentError);
      await expect(bus.request(connectContainerNetwork, { id: other.id, network: { id: more.id, name: 'conn-b' } })).rejects.toThrow(why);
    }
  });

  it("lists a network's names for its resolvers: names, aliases on that network and addresses, and nothing of another network", async () => {
    const net = await bus.request(createNetwork, { name: 'named', teamId: teamA, driver: 'overlay', subnet: '10.78.0.0/24' });
    const elsewhere = await bus.request(createNetwork, { name: 'elsewhere', teamId: teamA, driver: 'overlay', subnet: '10.79.0.0/24' });
    const db = await bus.request(recordContainer, {
      id: randomBytes(32).toString('hex'),
      name: 'db-1',
      teamId: teamA,
      hostId: 'net-host',
      spec: ContainerSpec.parse({ image: 'r/x', networks: [{ id: net.id, name: 'named', aliases: ['postgres', 'db', 'db'] }] }),
    });
    expect(db.spec.networks[0]?.aliases).toEqual(['postgres', 'db']);
    await bus.request(recordContainer, { id: randomBytes(32).toString('hex'), name: 'other', teamId: teamA, hostId: 'net-host', spec: ContainerSpec.parse({ image: 'r/x', networks: [{ id: elsewhere.id, name: 'elsewhere' }] }) });
    // A service's replica carries the service's name (through its id label) for `shop` and `tasks.shop`.
    const shop = await bus.request(createService, { name: 'shop', teamId: teamA, ownerId: randomUUID(), spec: ServiceSpec.parse({ image: 'r/shop', replicas: 1 }) });
    const replica = await bus.request(recordContainer, {
      id: randomBytes(32).toString('hex'),
      name: 'shop.1a2b3c4d5e',
      teamId: teamA,
      hostId: 'net-host',
      spec: ContainerSpec.parse({ image: 'r/shop', labels: { [SERVICE_ID_LABEL]: shop.id }, networks: [{ id: net.id, name: 'named' }] }),
    });
    const { items } = await bus.request(networkNames, { networkId: net.id });
    expect(items.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { containerId: db.id, name: 'db-1', aliases: ['postgres', 'db'], address: '10.78.0.2', service: null, running: false, health: null, networks: [net.id] },
      { containerId: replica.id, name: 'shop.1a2b3c4d5e', aliases: [], address: '10.78.0.3', service: 'shop', running: false, health: null, networks: [net.id] },
    ]);
  });

  it("gives each network its own VNI, and an agent the network's running containers on other hosts with their host's underlay address", async () => {
    const host = (id: string, underlayAddress: string | null) =>
      bus.request(registerHost, { id, address: id, capacity: { cpus: 2, memoryBytes: 1 << 30, diskBytes: 1 << 30 }, labels: {}, agentVersion: 'test', underlayAddress });
    expect((await host('ov-a', '10.0.9.1')).underlayAddress).toBe('10.0.9.1');
    await host('ov-b', '10.0.9.2');
    await host('ov-c', null);
    const over = await bus.request(createNetwork, { name: 'ov', teamId: teamA, driver: 'overlay' });
    const local = await bus.request(createNetwork, { name: 'ov-local', teamId: teamA, driver: 'bridge' });
    expect(over.vni).not.toBe(local.vni);
    expect((await bus.request(getNetwork, { ref: over.id })).vni).toBe(over.vni);
    const run = async (name: string, hostId: string, net: { id: string; name: string }, state: 'running' | 'exited') => {
      const c = await bus.request(recordContainer, { id: randomBytes(32).toString('hex'), name, teamId: teamA, hostId, spec: ContainerSpec.parse({ image: 'r/x', networks: [{ id: net.id, name: net.name }] }) });
      await bus.emit(containerStateChanged, { id: c.id, hostId, state, at: new Date().toISOString() });
      return c;
    };
    await run('ov-on-a', 'ov-a', over, 'running');
    const onB = await run('ov-on-b', 'ov-b', over, 'running');
    await run('ov-on-b-exited', 'ov-b', over, 'exited');
    await run('ov-on-c', 'ov-c', over, 'running'); // its host has no underlay address: unreachable, left out
    await run('ov-local-b', 'ov-b', local, 'running');
    const expected = {
      hosts: ['10.0.9.2'],
      networks: [{ id: over.id, vni: over.vni, peers: [{ containerId: onB.id, hostId: 'ov-b', underlayAddress: '10.0.9.2', address: onB.spec.networks[0]!.address }] }],
    };
    // Events are recorded asynchronously: asked until they are (bounded).
    let reply;
    for (let i = 0; i < 50; i++) {
      reply = await bus.request(overlayPeers, { hostId: 'ov-a', networkIds: [over.id, local.id] });
      if (JSON.stringify(reply) === JSON.stringify(expected)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(reply).toEqual(expected);
  });
});
