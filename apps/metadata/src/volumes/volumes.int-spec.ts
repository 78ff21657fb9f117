import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { ConflictError, ContainerSpec, createTeam, createVolume, deleteContainerRecord, deleteVolume, getVolume, InvalidMessageError, listVolumes, NotFoundError, recordContainer, registerHost } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase } from '@muelle/testing';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';

const GiB = 1024 ** 3;

describe.each([
  ['PostgreSQL server', true],
  ['embedded PGlite', false],
])('volumes in metadata on %s', (_name, useServer) => {
  let running: RunningService;
  let bus: BusClient;
  let drop: (() => Promise<void>) | undefined;
  let teamA: string;
  let teamB: string;

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
      .parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-vol-')), MUELLE_ADMIN_PASSWORD: 'correct-horse', ...extra });
    running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
    for (const id of ['vh1', 'vh2']) {
      await bus.request(registerHost, { id, address: '10.0.0.1', capacity: { cpus: 8, memoryBytes: 8 * GiB, diskBytes: GiB }, labels: {}, agentVersion: 't' });
    }
    teamA = (await bus.request(createTeam, { name: 'vol-a' })).id;
    teamB = (await bus.request(createTeam, { name: 'vol-b' })).id;
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('records a volume on its host once per team name; a second create returns the first', async () => {
    const first = await bus.request(createVolume, { teamId: teamA, name: 'data', hostId: 'vh1', labels: { tier: 'db' } });
    expect(first).toMatchObject({ created: true, volume: { name: 'data', teamId: teamA, driver: 'local', hostId: 'vh1', labels: { tier: 'db' } } });
    const again = await bus.request(createVolume, { teamId: teamA, name: 'data', hostId: 'vh2' });
    expect(again).toEqual({ created: false, volume: first.volume });
    await expect(bus.request(createVolume, { teamId: teamA, name: 'data', hostId: 'vh2', requireHost: true })).rejects.toThrow(/lives on host vh1/);
    // The same name in another team is another volume.
    expect((await bus.request(createVolume, { teamId: teamB, name: 'data', hostId: 'vh2' })).volume.hostId).toBe('vh2');
    expect((await bus.request(getVolume, { teamId: teamB, name: 'data' })).hostId).toBe('vh2');
    await expect(bus.request(getVolume, { teamId: teamA, name: 'nope' })).rejects.toThrow(NotFoundError);
  });

  it('refuses other drivers and names Docker would refuse', async () => {
    await expect(bus.request(createVolume, { teamId: teamA, name: 'x', hostId: 'vh1', driver: 'nfs' } as never)).rejects.toThrow(InvalidMessageError);
    await expect(bus.request(createVolume, { teamId: teamA, name: '-x', hostId: 'vh1' })).rejects.toThrow(InvalidMessageError);
    await expect(bus.request(createVolume, { teamId: teamA, name: 'x/y', hostId: 'vh1' })).rejects.toThrow(InvalidMessageError);
  });

  it("lists a team's volumes with the containers that mount them; delete refuses while one does", async () => {
    const id = randomBytes(32).toString('hex');
    const spec = ContainerSpec.parse({ image: 'busybox:latest', volumes: [{ kind: 'volume', source: 'data', target: '/data' }] });
    await bus.request(recordContainer, { id, name: 'writer', teamId: teamA, hostId: 'vh1', spec });
    const listed = (await bus.request(listVolumes, { teamId: teamA })).items;
    expect(listed.map((v) => [v.name, v.usedBy])).toEqual([['data', ['writer']]]);
    // Team B's volume of the same name is not used by team A's container.
    expect((await bus.request(listVolumes, { teamId: teamB })).items.map((v) => v.usedBy)).toEqual([[]]);
    await expect(bus.request(deleteVolume, { teamId: teamA, name: 'data' })).rejects.toThrow(ConflictError);
    await expect(bus.request(deleteVolume, { teamId: teamA, name: 'data' })).rejects.toThrow(/in use by container writer/);
    await bus.request(deleteContainerRecord, { id });
    expect((await bus.request(deleteVolume, { teamId: teamA, name: 'data' })).deleted).toMatchObject({ name: 'data', hostId: 'vh1' });
    expect((await bus.request(deleteVolume, { teamId: teamA, name: 'data' })).deleted).toBeNull();
    expect((await bus.request(listVolumes, {})).items.map((v) => v.teamId)).toEqual([teamB]);
  });

  it('keeps one row when many creates race for a name', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => bus.request(createVolume, { teamId: teamA, name: 'race', hostId: i % 2 ? 'vh1' : 'vh2' })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.volume.hostId)).size).toBe(1);
  });
});
