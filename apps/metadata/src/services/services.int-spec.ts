import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { acquireLease, ConflictError, ContainerSpec, containerHealthChanged, containerStateChanged, createService, deleteService, drainTasks, getService, listServices, meshRecord, MeshRecordReply, NotFoundError, PayloadOf, recordContainer, registerHost, SERVICE_BACKENDS_LABEL, SERVICE_ID_LABEL, ServiceSpec, tasksDraining, updateService } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';

describe.each([
  ['PostgreSQL server', true],
  ['embedded PGlite', false],
])('services and leases in metadata on %s', (_name, useServer) => {
  let running: RunningService;
  let bus: BusClient;
  let drop: (() => Promise<void>) | undefined;
  const drained: Array<PayloadOf<typeof tasksDraining>> = [];
  const owner = randomUUID();
  const spec = (image: string, replicas = 2) => ServiceSpec.parse({ image, replicas });

  beforeAll(async () => {
    let extra = {};
    if (useServer) {
      const db = await createTestDatabase();
      drop = db.drop;
      extra = { DATABASE_URL: db.url };
    }
    const broker = new InProcessBroker();
    broker.handleEvents(tasksDraining.subject, (event) => void drained.push(event as PayloadOf<typeof tasksDraining>));
    const config = z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-s-')), MUELLE_ADMIN_PASSWORD: 'whatever-pw', ...extra });
    running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('keeps one name per team, finds by name or id, lists and deletes', async () => {
    const web = await bus.request(createService, { name: 'web', teamId: null, ownerId: owner, spec: spec('r/web:1') });
    expect(web).toMatchObject({ name: 'web', version: 1, updateState: 'completed', previousSpec: null, spec: { image: 'r/web:1', replicas: 2, updateConfig: { parallelism: 1, order: 'stop-first' } } });
    await expect(bus.request(createService, { name: 'web', teamId: null, ownerId: owner, spec: spec('r/other') })).rejects.toThrow(ConflictError);
    expect((await bus.request(getService, { ref: web.id })).name).toBe('web');
    expect((await bus.request(getService, { ref: 'web' })).id).toBe(web.id);
    expect((await bus.request(listServices, {})).items.map((s) => s.name)).toContain('web');
    // A service's networks (with aliases) are kept with its spec; a service without any has none.
    const onNets = await bus.request(createService, { name: 'on-nets', teamId: null, ownerId: owner, spec: ServiceSpec.parse({ image: 'r/x', networks: [{ network: 'shop_default', aliases: ['web'] }] }) });
    expect((await bus.request(getService, { ref: onNets.id })).spec.networks).toEqual([{ network: 'shop_default', aliases: ['web'] }]);
    expect(web.spec.networks).toEqual([]);
    const gone = await bus.request(createService, { name: 'gone', teamId: null, ownerId: owner, spec: spec('r/gone') });
    expect(await bus.request(deleteService, { id: gone.id })).toEqual({ deleted: true });
    await expect(bus.request(getService, { ref: 'gone' })).rejects.toThrow(NotFoundError);
  });

  it('applies a change only at the version and state it was decided on; a new spec bumps the version unless told not to', async () => {
    const api = await bus.request(createService, { name: 'api', teamId: null, ownerId: owner, spec: spec('r/api:1') });
    const scaled = await bus.request(updateService, { id: api.id, expectedVersion: 1, expectedUpdatedAt: api.updatedAt, spec: spec('r/api:1', 5), bumpVersion: false });
    expect(scaled).toMatchObject({ version: 1, spec: { replicas: 5 } });
    // A change read before that write (same version, older updatedAt) is refused: it would undo the scale.
    const late = bus.request(updateService, { id: api.id, expectedVersion: 1, expectedUpdatedAt: api.updatedAt, spec: spec('r/api:1', 7), bumpVersion: false });
    await expect(late).rejects.toMatchObject({ code: 'CONFLICT', details: { version: 1, stale: true } });
    const updated = await bus.request(updateService, { id: api.id, expectedVersion: 1, spec: spec('r/api:2', 5), previousSpec: scaled.spec, updateState: 'updating' });
    expect(updated).toMatchObject({ version: 2, updateState: 'updating', previousSpec: { image: 'r/api:1' } });
    // A decision taken on version 1, or on a state that changed meanwhile, is refused.
    await expect(bus.request(updateService, { id: api.id, expectedVersion: 1, updateState: 'completed' })).rejects.toThrow(/service api changed since you read it \(now version 2, updating\); retry/);
    await expect(bus.request(updateService, { id: api.id, expectedVersion: 2, expectedUpdateState: 'paused', updateState: 'completed' })).rejects.toThrow(ConflictError);
    // The update's failed tasks are kept until the next spec starts a new update.
    const failed = await bus.request(updateService, { id: api.id, expectedVersion: 2, expectedUpdateState: 'updating', updateFailedTasks: ['t1'], updateMessage: '1 new task(s) failed' });
    expect(failed).toMatchObject({ version: 2, updateState: 'updating', updateFailedTasks: ['t1'] });
    const done = await bus.request(updateService, { id: api.id, expectedVersion: 2, expectedUpdateState: 'updating', updateState: 'completed', updateMessage: '' });
    expect(done).toMatchObject({ version: 2, updateState: 'completed', updateFailedTasks: ['t1'] });
    const next = await bus.request(updateService, { id: api.id, expectedVersion: 2, spec: spec('r/api:3', 5), previousSpec: done.spec, updateState: 'updating' });
    expect(next).toMatchObject({ version: 3, updateFailedTasks: [] });
  });

  it("keeps the restart policy in the spec and its record of failed tasks until the next spec version", async () => {
    const policy = { condition: 'on-failure' as const, delayMs: 1000, maxAttempts: 3, windowMs: 60_000 };
    const worker = await bus.request(createService, { name: 'worker', teamId: null, ownerId: owner, spec: ServiceSpec.parse({ image: 'r/w:1', restartPolicy: policy }) });
    expect(worker).toMatchObject({ spec: { restartPolicy: policy }, restartHistory: [] });
    const entry = { task: 'a'.repeat(64), at: new Date().toISOString(), exitCode: 1, restarted: false, reason: 'exited with 1; not restarted' };
    const recorded = await bus.request(updateService, { id: worker.id, expectedVersion: 1, expectedUpdateState: 'completed', restartHistory: [entry], bumpVersion: false });
    expect((await bus.request(getService, { ref: worker.id })).restartHistory).toEqual([entry]);
    expect(recorded.version).toBe(1);
    const next = await bus.request(updateService, { id: worker.id, expectedVersion: 1, spec: ServiceSpec.parse({ image: 'r/w:2', restartPolicy: policy }), previousSpec: recorded.spec, updateState: 'updating' });
    expect(next).toMatchObject({ version: 2, restartHistory: [] });
  });

  it('gives a published ingress port to exactly one of several services created or changed at once, naming the holder to the others', async () => {
    const ingress = (hostPort: number, mode: 'ingress' | 'host' = 'ingress') => ServiceSpec.parse({ image: 'r/web', ports: [{ hostPort, containerPort: 80, mode }] });
    const racers = ['race-a', 'race-b', 'race-c', 'race-d', 'race-e'];
    const results = await Promise.allSettled(racers.map((name) => bus.request(createService, { name, teamId: null, ownerId: owner, spec: ingress(8085) })));
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.name] : []));
    expect(won).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect(r.reason).toBeInstanceOf(ConflictError);
      expect(r.reason.message).toBe(`port 8085/tcp is already published by service ${won[0]} on every host (routing mesh)`);
    }
    // The losers were not made at all.
    expect((await bus.request(listServices, {})).items.filter((s) => racers.includes(s.name)).map((s) => s.name)).toEqual(won);
    // Updates racing for a free port: one gets it.
    const others = await Promise.all(['race-f', 'race-g', 'race-h'].map((name) => bus.request(createService, { name, teamId: null, ownerId: owner, spec: spec('r/web') })));
    const moved = await Promise.allSettled(others.map((s) => bus.request(updateService, { id: s.id, expectedVersion: 1, spec: ingress(8086) })));
    expect(moved.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(moved.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.message)).toEqual([
      expect.stringMatching(/^port 8086\/tcp is already published by service race-[fgh] on every host/),
      expect.stringMatching(/^port 8086\/tcp is already published by service race-[fgh] on every host/),
    ]);
    // Host-mode ports may share a port with each other, not with an ingress port; a removed service frees its ports.
    const hostA = await bus.request(createService, { name: 'host-a', teamId: null, ownerId: owner, spec: ingress(8087, 'host') });
    await bus.request(createService, { name: 'host-b', teamId: null, ownerId: owner, spec: ingress(8087, 'host') });
    await expect(bus.request(createService, { name: 'ing-c', teamId: null, ownerId: owner, spec: ingress(8087) })).rejects.toThrow('port 8087/tcp is already published by service host-a');
    await expect(bus.request(createService, { name: 'host-d', teamId: null, ownerId: owner, spec: ingress(8085, 'host') })).rejects.toThrow(/port 8085\/tcp is already published by service race-/);
    await bus.request(deleteService, { id: hostA.id });
    await bus.request(deleteService, { id: (await bus.request(getService, { ref: 'host-b' })).id });
    expect((await bus.request(createService, { name: 'ing-c', teamId: null, ownerId: owner, spec: ingress(8087) })).name).toBe('ing-c');
  });

  it("gives the routing mesh each ingress service's running tasks on ready hosts, their health and backend ports, and the hosts' underlay addresses", async () => {
    for (const [id, underlayAddress] of [['mesh-h1', '10.0.9.1'], ['mesh-h2', '10.0.9.2']] as const) {
      await bus.request(registerHost, { id, address: underlayAddress, underlayAddress, capacity: { cpus: 4, memoryBytes: 8 << 30, diskBytes: 1 << 30 }, labels: {}, agentVersion: 't' });
    }
    const ports = [{ hostPort: 8080, containerPort: 80 }, { hostPort: 9000, containerPort: 9000, mode: 'host' as const }];
    const web = await bus.request(createService, { name: 'mesh-web', teamId: null, ownerId: owner, spec: ServiceSpec.parse({ image: 'r/web', ports }) });
    const none = await bus.request(createService, { name: 'mesh-none', teamId: null, ownerId: owner, spec: ServiceSpec.parse({ image: 'r/web', ports: [{ hostPort: 9001, containerPort: 1, mode: 'host' }] }) });
    const task = async (hostId: string, backend: number, healthcheck: boolean) => {
      const id = randomUUID().replace(/-/g, '').repeat(2);
      const labels = { [SERVICE_ID_LABEL]: web.id, [SERVICE_BACKENDS_LABEL]: `80/tcp=${backend}` };
      const taskSpec = ContainerSpec.parse({ image: 'r/web', labels, ...(healthcheck && { healthcheck: { test: ['CMD', 'true'] } }) });
      await bus.request(recordContainer, { id, hostId, spec: taskSpec });
      await bus.emit(containerStateChanged, { id, hostId, state: 'running', at: new Date().toISOString() });
      return id;
    };
    const [a, b, stopped] = [await task('mesh-h1', 31001, true), await task('mesh-h2', 31002, false), await task('mesh-h2', 31003, false)];
    await bus.emit(containerHealthChanged, { id: a, hostId: 'mesh-h1', status: 'healthy', failingStreak: 0, at: new Date().toISOString() });
    await bus.emit(containerStateChanged, { id: stopped, hostId: 'mesh-h2', state: 'removing', at: new Date(Date.now() + 1000).toISOString() });
    const record = await eventuallyMesh(bus, (r) => r.services.find((s) => s.id === web.id)?.tasks.length === 2 && r.services.find((s) => s.id === web.id)?.tasks.some((t) => t.health === 'healthy') === true);
    expect(record.hosts).toEqual(expect.arrayContaining([{ id: 'mesh-h1', underlayAddress: '10.0.9.1' }, { id: 'mesh-h2', underlayAddress: '10.0.9.2' }]));
    // Only services with ingress ports (other tests made some too).
    expect(record.services.map((s) => s.id)).toContain(web.id);
    expect(record.services.map((s) => s.id)).not.toContain(none.id);
    const service = record.services.find((s) => s.id === web.id)!;
    expect(service.ports).toEqual([{ publishedPort: 8080, targetPort: 80, protocol: 'tcp' }]);
    expect(service.tasks.map((t) => [t.containerId, t.hostId, t.health, t.hasHealthcheck, t.backendPorts]).sort()).toEqual(
      [
        [a, 'mesh-h1', 'healthy', true, { '80/tcp': 31001 }],
        [b, 'mesh-h2', null, false, { '80/tcp': 31002 }],
      ].sort(),
    );
    // A task leaving (drainTasks) is out of the record at once, and every mesh hears it; only the service's running tasks are marked.
    expect(await bus.request(drainTasks, { serviceId: web.id, ids: [b, stopped] })).toEqual({ draining: [b] });
    expect(await bus.request(drainTasks, { serviceId: none.id, ids: [a] })).toEqual({ draining: [] });
    expect((await bus.request(meshRecord, {})).services.find((s) => s.id === web.id)!.tasks.map((t) => t.containerId)).toEqual([a]);
    for (let i = 0; i < 50 && !drained.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(drained).toEqual([{ serviceId: web.id, ids: [b], at: expect.any(String) }]);
  });

  it('gives a lease to one holder at a time, renews it for that holder, and hands it over once it lapsed', async () => {
    const first = await bus.request(acquireLease, { name: 'test-lease', holder: 'api-1', ttlMs: 1000 });
    expect(first.held).toBe(true);
    const contenders = await Promise.all(['api-2', 'api-3', 'api-1'].map((holder) => bus.request(acquireLease, { name: 'test-lease', holder, ttlMs: 1000 })));
    expect(contenders.map((c) => c.held)).toEqual([false, false, true]);
    expect(contenders[0]!.holder).toBe('api-1');
    await new Promise((r) => setTimeout(r, 1100));
    const results = await Promise.all(['api-2', 'api-3'].map((holder) => bus.request(acquireLease, { name: 'test-lease', holder, ttlMs: 5000 })));
    expect(results.filter((r) => r.held)).toHaveLength(1);
  });
});

/** Events are recorded asynchronously: ask until the record shows them (bounded). */
async function eventuallyMesh(bus: BusClient, ready: (r: MeshRecordReply) => boolean): Promise<MeshRecordReply> {
  for (let i = 0; ; i++) {
    const record = await bus.request(meshRecord, {});
    if (ready(record) || i >= 50) return record;
    await new Promise((r) => setTimeout(r, 100));
  }
}
