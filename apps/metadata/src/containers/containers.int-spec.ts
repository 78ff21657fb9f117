import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import {
  ConflictError,
  containerHealthChanged,
  containerStateChanged,
  reassignContainer,
  reassignContainers,
  ContainerSpec,
  getContainer,
  hostUsage,
  InvalidArgumentError,
  listContainers,
  NotFoundError,
  recordContainer,
  registerHost,
  renameContainer,
} from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase, eventually } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';
import { ContainersService } from './containers.service';
import { DataSource } from 'typeorm';

const newId = () => randomBytes(32).toString('hex');
const spec = (extra: Partial<z.input<typeof ContainerSpec>> = {}) => ContainerSpec.parse({ image: 'busybox:latest', ...extra });

describe('container records in metadata (PostgreSQL)', () => {
  let running: RunningService;
  let bus: BusClient;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const broker = new InProcessBroker();
    const config = z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-c-')), DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: 'whatever-pw' });
    running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
    for (const id of ['h1', 'h2']) {
      await bus.request(registerHost, { id, address: '10.0.0.1', capacity: { cpus: 4, memoryBytes: 8 << 30, diskBytes: 1 << 30 }, labels: {}, agentVersion: 't' });
    }
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('records a container with a generated docker-style name, and refuses a taken name', async () => {
    const created = await bus.request(recordContainer, { id: newId(), hostId: 'h1', spec: spec() });
    expect(created).toMatchObject({ state: 'created', hostId: 'h1', image: 'busybox:latest', restartCount: 0 });
    expect(created.name).toMatch(/^[a-z]+_[a-z]+(_\d+)?$/);
    await bus.request(recordContainer, { id: newId(), name: 'web', hostId: 'h1', spec: spec() });
    await expect(bus.request(recordContainer, { id: newId(), name: 'web', hostId: 'h2', spec: spec() })).rejects.toThrow(ConflictError);
  });

  it('renames a container; a taken name is a conflict and an unknown id not found', async () => {
    const id = newId();
    await bus.request(recordContainer, { id, name: 'before-rename', hostId: 'h1', spec: spec() });
    await bus.request(recordContainer, { id: newId(), name: 'rename-taken', hostId: 'h1', spec: spec() });
    expect(await bus.request(renameContainer, { id, name: 'after-rename' })).toMatchObject({ id, name: 'after-rename' });
    expect((await bus.request(getContainer, { ref: 'after-rename' })).id).toBe(id);
    await expect(bus.request(getContainer, { ref: 'before-rename' })).rejects.toThrow(NotFoundError);
    await expect(bus.request(renameContainer, { id, name: 'rename-taken' })).rejects.toThrow(/the container name "rename-taken" is already in use/);
    await expect(bus.request(renameContainer, { id: newId(), name: 'free-name' })).rejects.toThrow(NotFoundError);
  });

  it('finds a container by name, full id or unique prefix; an ambiguous prefix is an error', async () => {
    const id = `abc${newId().slice(3)}`;
    await bus.request(recordContainer, { id, name: 'finder', hostId: 'h1', spec: spec() });
    expect((await bus.request(getContainer, { ref: 'finder' })).id).toBe(id);
    expect((await bus.request(getContainer, { ref: id })).name).toBe('finder');
    expect((await bus.request(getContainer, { ref: id.slice(0, 12) })).name).toBe('finder');
    await bus.request(recordContainer, { id: `abc${newId().slice(3)}`, hostId: 'h1', spec: spec() });
    await expect(bus.request(getContainer, { ref: 'abc' })).rejects.toThrow(InvalidArgumentError);
    await expect(bus.request(getContainer, { ref: 'nope-nope' })).rejects.toThrow(NotFoundError);
  });

  it('records state changes, ignoring one older than what it has', async () => {
    const id = newId();
    await bus.request(recordContainer, { id, name: 'stateful', hostId: 'h2', spec: spec() });
    const t0 = Date.now();
    await bus.emit(containerStateChanged, { id, hostId: 'h2', state: 'exited', exitCode: 137, oomKilled: true, at: new Date(t0 + 2000).toISOString() });
    await bus.emit(containerStateChanged, { id, hostId: 'h2', state: 'running', at: new Date(t0 + 1000).toISOString() });
    await eventually(async () => {
      const record = await bus.request(getContainer, { ref: 'stateful' });
      if (record.state !== 'exited') throw new Error(record.state);
      expect(record).toMatchObject({ exitCode: 137, oomKilled: true });
    });
    await new Promise((r) => setTimeout(r, 100));
    expect((await bus.request(getContainer, { ref: 'stateful' })).state).toBe('exited');
  });

  it('records health apart from state: the newest by its own clock, only from the assigned host, cleared by a move', async () => {
    const id = newId();
    await bus.request(recordContainer, { id, name: 'checked', hostId: 'h1', spec: spec({ healthcheck: { test: ['CMD', 'true'], intervalMs: 500 } }) });
    expect((await bus.request(getContainer, { ref: 'checked' })).health).toBeNull();
    const t0 = Date.now();
    await bus.emit(containerStateChanged, { id, hostId: 'h1', state: 'running', at: new Date(t0).toISOString() });
    await bus.emit(containerHealthChanged, { id, hostId: 'h1', status: 'unhealthy', failingStreak: 3, at: new Date(t0 + 2000).toISOString() });
    await bus.emit(containerHealthChanged, { id, hostId: 'h1', status: 'healthy', failingStreak: 0, at: new Date(t0 + 1000).toISOString() });
    await bus.emit(containerHealthChanged, { id, hostId: 'h2', status: 'healthy', failingStreak: 0, at: new Date(t0 + 3000).toISOString() });
    await eventually(async () => {
      const record = await bus.request(getContainer, { ref: 'checked' });
      if (record.health !== 'unhealthy') throw new Error(String(record.health));
      expect(record).toMatchObject({ state: 'running', startedAt: new Date(t0).toISOString(), spec: { healthcheck: { test: ['CMD', 'true'], intervalMs: 500 } } });
    });
    await new Promise((r) => setTimeout(r, 100));
    expect((await bus.request(getContainer, { ref: 'checked' })).health).toBe('unhealthy');
    const listed = await bus.request(listContainers, { filters: { name: 'checked' } });
    expect(listed.items[0]?.health).toBe('unhealthy');
    expect((await bus.request(reassignContainer, { id, hostId: 'h2' })).health).toBeNull();
  });

  it('records a placement only at the generation it was decided at, one at a time across callers', async () => {
    const { placementGeneration } = await bus.request(hostUsage, {});
    // Two replicas decided from the same snapshot: the first commits, the second is told to decide again.
    const racing = await Promise.allSettled(
      [0, 1, 2].map(() => bus.request(recordContainer, { id: newId(), hostId: 'h1', spec: spec(), placementGeneration })),
    );
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const refused of racing.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
      expect(refused.reason).toBeInstanceOf(ConflictError);
      expect(refused.reason.details).toEqual({ stalePlacement: true });
    }
    const after = await bus.request(hostUsage, {});
    expect(after.placementGeneration).toBe(placementGeneration + 1);
    // A placement without a generation (an older caller) still moves it on, so deciders see it.
    await bus.request(recordContainer, { id: newId(), hostId: 'h2', spec: spec() });
    await expect(bus.request(recordContainer, { id: newId(), hostId: 'h1', spec: spec(), placementGeneration: after.placementGeneration })).rejects.toThrow(
      'another placement was recorded since this one was decided',
    );
  });

  it('moves a container only from the host it is still on', async () => {
    const id = newId();
    await bus.request(recordContainer, { id, hostId: 'h1', spec: spec() });
    const { placementGeneration } = await bus.request(hostUsage, {});
    expect(await bus.request(reassignContainer, { id, hostId: 'h2', fromHostId: 'h1', placementGeneration })).toMatchObject({ hostId: 'h2' });
    // A second replica's reconciler, late: the container has already left h1.
    const late = bus.request(reassignContainer, { id, hostId: 'h2', fromHostId: 'h1' });
    await expect(late).rejects.toThrow(ConflictError);
    await expect(late).rejects.toMatchObject({ details: { moved: true } });
    await expect(bus.request(reassignContainer, { id: newId(), hostId: 'h2', fromHostId: 'h1' })).rejects.toThrow(NotFoundError);
  });

  it('moves several containers at one generation in one transaction, skipping those no longer on their host', async () => {
    const [a, b, gone] = [newId(), newId(), newId()];
    for (const id of [a, b, gone]) await bus.request(recordContainer, { id, hostId: 'h1', spec: spec() });
    await bus.request(reassignContainer, { id: gone, hostId: 'h2', fromHostId: 'h1' }); // another replica, first
    const { placementGeneration } = await bus.request(hostUsage, {});
    const moves = [a, b, gone].map((id) => ({ id, hostId: 'h2', fromHostId: 'h1' }));
    expect(await bus.request(reassignContainers, { moves, placementGeneration })).toEqual({ moved: [a, b], skipped: [gone] });
    expect((await bus.request(hostUsage, {})).placementGeneration).toBe(placementGeneration + 1);
    // Decided at an older generation: nothing is written.
    const c = newId();
    await bus.request(recordContainer, { id: c, hostId: 'h1', spec: spec() });
    await expect(bus.request(reassignContainers, { moves: [{ id: c, hostId: 'h2', fromHostId: 'h1' }], placementGeneration })).rejects.toMatchObject({
      details: { stalePlacement: true },
    });
    expect(await bus.request(getContainer, { ref: c })).toMatchObject({ hostId: 'h1' });
  });

  it('exports containers by host and state, and host capacity and reservations, as read at the scrape', async () => {
    const gauge = async (name: string, labels: string) => {
      const text = await (await fetch(`${running.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    const before = (await gauge('muelle_containers', 'host="h2",state="created"')) ?? 0;
    const reservedBefore = (await gauge('muelle_host_reserved', 'host="h2",resource="memory_bytes"')) ?? 0;
    await bus.request(recordContainer, { id: newId(), hostId: 'h2', spec: spec({ resources: { memoryBytes: 64 << 20 } }) });
    expect(await gauge('muelle_containers', 'host="h2",state="created"')).toBe(before + 1);
    expect(await gauge('muelle_host_reserved', 'host="h2",resource="memory_bytes"')).toBe(reservedBefore + (64 << 20));
    expect(await gauge('muelle_host_capacity', 'host="h2",resource="memory_bytes"')).toBe(8 << 30);
    expect(await gauge('muelle_host_capacity', 'host="h1",resource="cpus"')).toBe(4);
    expect(await gauge('muelle_host_up', 'host="h1"')).toBe(1);
  });

  it('ignores state events from a host the container is not assigned to', async () => {
    const id = newId();
    await bus.request(recordContainer, { id, name: 'moved', hostId: 'h1', spec: spec() });
    await bus.emit(containerStateChanged, { id, hostId: 'h2', state: 'running', at: new Date(Date.now() + 1000).toISOString() });
    await new Promise((r) => setTimeout(r, 300));
    expect(await bus.request(getContainer, { ref: 'moved' })).toMatchObject({ state: 'created', hostId: 'h1' });
    await bus.emit(containerStateChanged, { id, hostId: 'h1', state: 'running', at: new Date(Date.now() + 2000).toISOString() });
    await eventually(async () => {
      const record = await bus.request(getContainer, { ref: 'moved' });
      if (record.state !== 'running') throw new Error(record.state);
      expect(record.hostId).toBe('h1');
    });
  });

  it('lists running containers by default and all with `all`, newest first, with filters and pages', async () => {
    const ids = [newId(), newId(), newId()];
    for (const [i, id] of ids.entries()) {
      await bus.request(recordContainer, { id, name: `lister-${i}`, hostId: 'h2', spec: spec({ labels: { tier: i === 0 ? 'db' : 'web' } }) });
      await bus.emit(containerStateChanged, { id, hostId: 'h2', state: 'running', at: new Date().toISOString() });
    }
    await eventually(async () => {
      const page = await bus.request(listContainers, { filters: { name: 'lister-' } });
      if (page.items.length !== 3) throw new Error(String(page.items.length));
    });
    const running = await bus.request(listContainers, { filters: { name: 'lister-', label: ['tier=web'] } });
    expect(running.items.map((c) => c.name)).toEqual(['lister-2', 'lister-1']);
    const withKey = await bus.request(listContainers, { filters: { label: ['tier'] } });
    expect(withKey.items).toHaveLength(3);
    expect((await bus.request(listContainers, {})).items.some((c) => c.state === 'created')).toBe(false);
    expect((await bus.request(listContainers, { all: true })).items.some((c) => c.state === 'created')).toBe(true);
    const first = await bus.request(listContainers, { all: true, limit: 2 });
    const second = await bus.request(listContainers, { all: true, limit: 2, cursor: first.nextCursor! });
    expect(first.items).toHaveLength(2);
    expect(second.items[0].id).not.toBe(first.items[1].id);
    await expect(bus.request(listContainers, { cursor: 'garbage' })).rejects.toThrow(InvalidArgumentError);
  });

  it('filters by label through the labels index, not by reading every container (the services reconciler asks once per service)', async () => {
    const id = newId();
    await bus.request(recordContainer, { id, name: 'labelled-task', hostId: 'h1', spec: spec({ labels: { 'muelle.service.id': 'svc-a=1', tier: 'web' } }) });
    const db = running.app.get(DataSource);
    // Enough other records that reading them all costs more than the index: what a busy platform has.
    await db.query(
      `INSERT INTO containers (id, name, host_id, image, spec, labels, state, created_at, state_changed_at)
       SELECT md5(i::text) || md5((i + 1)::text), 'filler-' || i, 'h2', 'busybox:latest', '{"image": "busybox:latest"}'::jsonb, jsonb_build_object('muelle.service.id', 'svc-' || (i % 200)), 'running', now() - make_interval(secs => i), now()
       FROM generate_series(1, 20000) AS i`,
    );
    try {
      await db.query('ANALYZE containers');
      const found = await bus.request(listContainers, { all: true, filters: { label: ['muelle.service.id=svc-a=1'] } });
      expect(found.items.map((c) => c.id)).toEqual([id]);
      expect((await bus.request(listContainers, { all: true, limit: 1000, filters: { label: ['muelle.service.id=svc-7'] } })).items).toHaveLength(100);
      const [sql, parameters] = running.app
        .get(ContainersService)
        .listQuery({ all: true, limit: 1000, filters: { label: ['muelle.service.id=svc-7'] } })
        .getQueryAndParameters();
      const plan = (await db.query(`EXPLAIN ${sql}`, parameters)).map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']).join('\n');
      expect(plan).toContain('containers_labels');
    } finally {
      await db.query(`DELETE FROM containers WHERE name LIKE 'filler-%'`);
    }
  });

  it('sums what live containers reserve on each host, for the scheduler', async () => {
    await bus.request(recordContainer, {
      id: newId(),
      hostId: 'h1',
      spec: spec({ resources: { memoryBytes: 256 << 20, cpus: 0.5 }, ports: [{ hostPort: 8080, containerPort: 80 }], labels: { 'muelle.service': 'web' } }),
    });
    const { hosts } = await bus.request(hostUsage, {});
    const h1 = hosts.find((h) => h.hostId === 'h1')!;
    expect(h1.reservedMemoryBytes).toBeGreaterThanOrEqual(256 << 20);
    expect(h1.reservedCpus).toBeGreaterThanOrEqual(0.5);
    expect(h1.usedPorts).toContain('0.0.0.0:8080/tcp');
    expect(h1.services.web).toBe(1);
  });

  it('sums exactly: only live containers, every published port, services by label (summed in SQL)', async () => {
    await bus.request(registerHost, { id: 'h-sum', address: '10.0.0.9', capacity: { cpus: 4, memoryBytes: 8 << 30, diskBytes: 1 << 30 }, labels: {}, agentVersion: 't' });
    const record = (extra: Partial<z.input<typeof ContainerSpec>>) => bus.request(recordContainer, { id: newId(), hostId: 'h-sum', spec: spec(extra) });
    await record({ resources: { memoryBytes: 100 << 20, cpus: 0.25 }, ports: [{ hostPort: 7001, containerPort: 80 }, { hostPort: 7002, containerPort: 81, protocol: 'udp' }], labels: { 'muelle.service': 'api' } });
    await record({ resources: { memoryBytes: 50 << 20 }, labels: { 'muelle.service': 'api' } });
    await record({ labels: { 'muelle.service': 'db' }, ports: [{ hostPort: 0, containerPort: 5432 }] });
    const gone = await record({ resources: { memoryBytes: 1 << 30, cpus: 2 }, ports: [{ hostPort: 7003, containerPort: 80 }], labels: { 'muelle.service': 'api' } });
    await bus.emit(containerStateChanged, { id: gone.id, hostId: 'h-sum', state: 'exited', exitCode: 0, at: new Date(Date.now() + 60_000).toISOString() });
    await eventually(async () => expect((await bus.request(getContainer, { ref: gone.id })).state).toBe('exited'));
    const usage = (await bus.request(hostUsage, {})).hosts.find((h) => h.hostId === 'h-sum')!;
    expect({ ...usage, usedPorts: [...usage.usedPorts].sort() }).toEqual({
      hostId: 'h-sum',
      containers: 3,
      reservedMemoryBytes: 150 << 20,
      reservedCpus: 0.25,
      usedPorts: ['0.0.0.0:7001/tcp', '0.0.0.0:7002/udp'],
      services: { api: 2, db: 1 },
    });
  });
});
