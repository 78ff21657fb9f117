import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import {
  admitContainerStart,
  commitBlob,
  mountBlob,
  statBlob,
  containerStateChanged,
  ContainerSpec,
  createTeam,
  getTeamPolicy,
  getTeamQuota,
  NotFoundError,
  PermissionDeniedError,
  recordContainer,
  registerHost,
  setTeamPolicy,
  setTeamQuota,
} from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase, eventually } from '@muelle/testing';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';

const newId = () => randomBytes(32).toString('hex');
const GiB = 1024 ** 3;
const spec = (resources: { memoryBytes?: number; cpus?: number } = {}) => ContainerSpec.parse({ image: 'busybox:latest', resources });

describe.each([
  ['PostgreSQL server', true],
  ['embedded PGlite', false],
])('team policies and quotas on %s', (_name, useServer) => {
  let running: RunningService;
  let bus: BusClient;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const broker = new InProcessBroker();
    let extra = {};
    if (useServer) {
      const db = await createTestDatabase();
      drop = db.drop;
      extra = { DATABASE_URL: db.url };
    }
    const config = z
      .object(metadataConfigShape)
      .parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-tl-')), MUELLE_ADMIN_PASSWORD: 'correct-horse', ...extra });
    running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: process.env.TL_LOG ? 'error' : 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
    await bus.request(registerHost, { id: 'h1', address: '10.0.0.1', capacity: { cpus: 64, memoryBytes: 256 * GiB, diskBytes: GiB }, labels: {}, agentVersion: 't' });
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('stores a policy per team (empty until an admin sets one); unknown teams are NOT_FOUND', async () => {
    const team = await bus.request(createTeam, { name: 'pol' });
    await expect(bus.request(getTeamPolicy, { team: 'pol' })).resolves.toMatchObject({ teamId: team.id, policy: { bindMounts: [], hostNetwork: false, capAdd: [] }, updatedAt: null });
    const set = await bus.request(setTeamPolicy, { team: team.id, policy: { bindMounts: [{ path: '/srv/x', readOnly: true }], capAdd: ['NET_ADMIN'] } });
    expect(set.policy).toMatchObject({ bindMounts: [{ path: '/srv/x', readOnly: true }], capAdd: ['NET_ADMIN'], hostNetwork: false });
    expect((await bus.request(getTeamPolicy, { team: 'pol' })).policy).toEqual(set.policy);
    await expect(bus.request(getTeamPolicy, { team: 'nope' })).rejects.toThrow(NotFoundError);
  });

  it('20 concurrent creates against a containers quota of 5 record exactly 5', async () => {
    const team = await bus.request(createTeam, { name: 'race' });
    await bus.request(setTeamQuota, { team: 'race', quota: { containers: 5 } });
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec() })));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const r of refused) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(PermissionDeniedError);
      expect((r as PromiseRejectedResult).reason.message).toBe('team race: containers quota 5, 5 reserved, 1 asked');
    }
    expect((await bus.request(getTeamQuota, { team: 'race' })).usage.containers).toBe(5);
  });

  it('refuses memory and CPUs over quota with the figures, and requires limits when a quota is set', async () => {
    const team = await bus.request(createTeam, { name: 'mem' });
    await bus.request(setTeamQuota, { team: 'mem', quota: { memoryBytes: 8 * GiB, cpus: 4 } });
    await bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec({ memoryBytes: 7.5 * GiB, cpus: 1 }) });
    await expect(bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec({ memoryBytes: GiB, cpus: 1 }) })).rejects.toThrow(
      'team mem: memory quota 8 GiB, 7.5 GiB reserved, 1 GiB asked',
    );
    await expect(bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec({ memoryBytes: 0.5 * GiB, cpus: 3.5 }) })).rejects.toThrow(
      'team mem: CPU quota 4, 1 reserved, 3.5 asked',
    );
    await expect(bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec({ cpus: 1 }) })).rejects.toThrow('set a memory limit (--memory)');
    await bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec({ memoryBytes: 0.5 * GiB, cpus: 3 }) });
    expect((await bus.request(getTeamQuota, { team: 'mem' })).usage).toMatchObject({ containers: 2, memoryBytes: 8 * GiB, cpus: 4 });
  });

  it('a stopped container frees its reservation; starting it again is checked against the quota', async () => {
    const team = await bus.request(createTeam, { name: 'restart' });
    await bus.request(setTeamQuota, { team: 'restart', quota: { containers: 1 } });
    const first = await bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec() });
    await bus.emit(containerStateChanged, { id: first.id, hostId: 'h1', state: 'exited', exitCode: 0, at: new Date(Date.now() + 1000).toISOString() });
    await eventually(async () => expect((await bus.request(getTeamQuota, { team: 'restart' })).usage.containers).toBe(0));
    await expect(bus.request(admitContainerStart, { id: first.id })).resolves.toEqual({ admitted: true });
    await bus.request(recordContainer, { id: newId(), teamId: team.id, hostId: 'h1', spec: spec() });
    await expect(bus.request(admitContainerStart, { id: first.id })).rejects.toThrow('team restart: containers quota 1, 1 reserved, 1 asked');
  });

  it("counts each blob of a team's repositories once in its registry usage", async () => {
    await bus.request(createTeam, { name: 'reg' });
    const blob = (text: string) => ({ digest: `sha256:${createHash('sha256').update(text).digest('hex')}`, size: text.length });
    const layer = blob('layer-bytes-1234');
    const config = blob('{"config":1}');
    for (const repository of ['reg/a', 'reg/b', 'other/c']) for (const b of [layer, config]) await bus.request(commitBlob, { repository, ...b });
    expect((await bus.request(getTeamQuota, { team: 'reg' })).usage.registryBytes).toBe(layer.size + config.size);
  });

  it('refuses a blob commit or mount over the registry quota with the figures; a blob the team already has costs nothing', async () => {
    await bus.request(createTeam, { name: 'regq' });
    const blob = (size: number) => ({ digest: `sha256:${createHash('sha256').update(`regq-${size}`).digest('hex')}`, size });
    await bus.request(setTeamQuota, { team: 'regq', quota: { registryBytes: 1000 } });
    await bus.request(commitBlob, { repository: 'regq/app', ...blob(900) });
    await bus.request(commitBlob, { repository: 'regq/other', ...blob(900) }); // the same blob again: counted once
    const refusal = bus.request(commitBlob, { repository: 'regq/app', ...blob(200) });
    await expect(refusal).rejects.toThrow(PermissionDeniedError);
    await expect(refusal).rejects.toThrow('team regq: registry storage quota 1000 B, 900 B used, 200 B asked');
    await bus.request(commitBlob, { repository: 'elsewhere/app', ...blob(200) });
    await expect(bus.request(mountBlob, { repository: 'regq/app', from: 'elsewhere/app', digest: blob(200).digest })).rejects.toThrow('registry storage quota');
    await expect(bus.request(statBlob, { repository: 'regq/app', digest: blob(200).digest })).rejects.toThrow(NotFoundError);
    expect((await bus.request(getTeamQuota, { team: 'regq' })).usage.registryBytes).toBe(900);
  });
});
