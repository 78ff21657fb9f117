import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import {
  authenticateToken,
  authenticateUser,
  advanceUpload,
  commitBlob,
  createUpload,
  getUpload,
  confirmGarbage,
  createToken,
  getHost,
  getManifest,
  getRepository,
  InvalidArgumentError,
  hostHeartbeat,
  listHosts,
  markGarbage,
  mountBlob,
  putManifest,
  NotFoundError,
  registerHost,
  statBlob,
  UnauthenticatedError,
  UnavailableError,
  createTeam,
  createUser,
  listCatalog,
  listEvents,
  setRepositoryAnonymousPull,
  setRepositoryShared,
} from '@muelle/contracts';
import { randomBytes, randomUUID } from 'node:crypto';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase, eventually } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Client } from 'pg';
import { metadataConfigShape } from './config';
import { z } from 'zod';
import { migrate, openDatabase } from './database/database';
import { migrations } from './database/migrations';
import { startMetadata } from './metadata.app';

const logger = pino({ level: 'silent' });
const config = (extra: Record<string, unknown>) =>
  z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-md-')), MUELLE_ADMIN_PASSWORD: 'correct-horse', MUELLE_HOST_DOWN_AFTER_SECONDS: '1', ...extra });

const host = (id: string) => ({ id, address: '10.0.0.1', capacity: { cpus: 2, memoryBytes: 1 << 30, diskBytes: 1 << 30 }, labels: { zone: 'a' }, agentVersion: 'test' });

describe.each([
  ['PostgreSQL server', true],
  ['embedded PGlite', false],
])('metadata on %s', (_name, useServer) => {
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
    running = await startMetadata(config(extra), { kind: 'in-process', broker }, logger, serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('creates the first admin from the environment and checks passwords', async () => {
    await expect(bus.request(authenticateUser, { username: 'admin', password: 'correct-horse' })).resolves.toMatchObject({ user: { username: 'admin', role: 'admin' }, teamId: null });
    await expect(bus.request(authenticateUser, { username: 'admin', password: 'wrong' })).rejects.toThrow(UnauthenticatedError);
    await expect(bus.request(authenticateUser, { username: 'nobody', password: 'x' })).rejects.toThrow(UnauthenticatedError);
    // Three real scrypt checks with OWASP's parameters: seconds on a busy machine.
  }, 30_000);

  it('keeps viewers and repositories marked shared (tenancy migration)', async () => {
    const team = await bus.request(createTeam, { name: `view-${useServer ? 'pg' : 'lite'}` });
    const viewer = await bus.request(createUser, { username: 'viewer-one', password: 'viewer-password', role: 'viewer', teamId: team.id });
    expect(viewer.user.role).toBe('viewer');
    await expect(bus.request(authenticateUser, { username: 'viewer-one', password: 'viewer-password' })).resolves.toMatchObject({ user: { role: 'viewer' } });
    await bus.request(setRepositoryAnonymousPull, { name: 'tenancy/open', anonymousPull: true });
    await expect(bus.request(setRepositoryShared, { name: 'tenancy/base', shared: true })).resolves.toMatchObject({ shared: true, anonymousPull: false });
    const page = await bus.request(listCatalog, { n: 1000 });
    expect(page.shared).toContain('tenancy/base');
    expect(page.shared).not.toContain('tenancy/open');
    expect(page.anonymousPull).toContain('tenancy/open');
  });

  it('issues API tokens that authenticate, and rejects unknown ones', async () => {
    const admin = await bus.request(authenticateUser, { username: 'admin', password: 'correct-horse' });
    const { token } = await bus.request(createToken, { userId: admin.user.id, name: 'ci' });
    expect(token).toMatch(/^mle_/);
    await expect(bus.request(authenticateToken, { token })).resolves.toMatchObject({ user: { id: admin.user.id } });
    await expect(bus.request(authenticateToken, { token: `${token}x` })).rejects.toThrow(UnauthenticatedError);
  });

  it('commits and mounts blobs, and refuses both for a digest marked for collection', async () => {
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    const repo = `md/${randomBytes(4).toString('hex')}`;
    await expect(bus.request(commitBlob, { repository: repo, digest, size: 42 })).resolves.toEqual({ digest, size: 42 });
    // A second commit of the same bytes keeps the first size and succeeds (two racing pushes).
    await expect(bus.request(commitBlob, { repository: repo, digest, size: 42 })).resolves.toEqual({ digest, size: 42 });
    await expect(bus.request(statBlob, { repository: repo, digest })).resolves.toEqual({ digest, size: 42 });
    await expect(bus.request(mountBlob, { repository: `${repo}-copy`, from: repo, digest })).resolves.toEqual({ mounted: true, size: 42 });
    await expect(bus.request(statBlob, { repository: `${repo}-copy`, digest })).resolves.toEqual({ digest, size: 42 });
    await expect(bus.request(mountBlob, { repository: `${repo}-other`, from: `${repo}-nowhere`, digest })).resolves.toEqual({ mounted: false, size: null });

    const orphan = `sha256:${randomBytes(32).toString('hex')}`;
    const marked = await bus.request(markGarbage, { graceSeconds: 3600, untaggedManifestSeconds: null, orphanDigests: [orphan], limit: 10 });
    expect(marked.digests).toContain(orphan);
    const refusal = bus.request(commitBlob, { repository: repo, digest: orphan, size: 1 });
    await expect(refusal).rejects.toThrow(UnavailableError);
    await expect(refusal).rejects.toMatchObject({ details: { registryCode: 'BLOB_BEING_COLLECTED' } });
    await expect(bus.request(mountBlob, { repository: `${repo}-copy`, from: repo, digest: orphan })).resolves.toEqual({ mounted: false, size: null });
    await bus.request(confirmGarbage, { digests: [orphan] });
    await expect(bus.request(commitBlob, { repository: repo, digest: orphan, size: 1 })).resolves.toEqual({ digest: orphan, size: 1 });
  });

  it('closes the upload session in the same call that commits its blob, and keeps it when the commit is refused', async () => {
    const repo = `md/${randomBytes(4).toString('hex')}`;
    const id = randomUUID();
    await bus.request(createUpload, { id, repository: repo, principal: null });
    const part = { key: `uploads/${id}/0`, size: 7 };
    await bus.request(advanceUpload, { id, expectedOffset: 0, part });
    const orphan = `sha256:${randomBytes(32).toString('hex')}`;
    await bus.request(markGarbage, { graceSeconds: 3600, untaggedManifestSeconds: null, orphanDigests: [orphan], limit: 10 });
    await expect(bus.request(commitBlob, { repository: repo, digest: orphan, size: 7, upload: id })).rejects.toThrow(UnavailableError);
    await expect(bus.request(getUpload, { id })).resolves.toMatchObject({ offset: 7, parts: [part] });
    // Another repository's session is not closed by a commit naming it.
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    await expect(bus.request(commitBlob, { repository: `${repo}-other`, digest, size: 7, upload: id })).resolves.toEqual({ digest, size: 7 });
    await expect(bus.request(commitBlob, { repository: repo, digest, size: 7, upload: id })).resolves.toEqual({ digest, size: 7, closedParts: [part] });
    await expect(bus.request(getUpload, { id })).rejects.toThrow(NotFoundError);
    await bus.request(confirmGarbage, { digests: [orphan] });
  });

  it('records a manifest with its references and tags, and refuses unknown references without leaving anything behind', async () => {
    const repo = `md/${randomBytes(4).toString('hex')}`;
    const digestOf = () => `sha256:${randomBytes(32).toString('hex')}`;
    const [config, layer, manifest] = [digestOf(), digestOf(), digestOf()];
    const body = (digest: string, tags: string[], blobs: string[]) => ({
      repository: repo, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 2, content: Buffer.from('{}').toString('base64'), tags, blobs, manifests: [],
    });
    // Unknown blobs in a repository that does not exist yet: refused, and no empty repository appears.
    const refused = bus.request(putManifest, body(manifest, ['v1'], [config, layer]));
    await expect(refused).rejects.toThrow(InvalidArgumentError);
    await expect(refused).rejects.toMatchObject({ details: { registryCode: 'MANIFEST_BLOB_UNKNOWN', digests: [config, layer] } });
    await expect(bus.request(getRepository, { name: repo })).rejects.toThrow(NotFoundError);

    await bus.request(commitBlob, { repository: repo, digest: config, size: 2 });
    await expect(bus.request(putManifest, body(manifest, ['v1'], [config, layer]))).rejects.toMatchObject({ details: { digests: [layer] } });
    await bus.request(commitBlob, { repository: repo, digest: layer, size: 2 });
    await expect(bus.request(putManifest, body(manifest, ['v1', 'latest', 'v1'], [config, layer, config]))).resolves.toMatchObject({ created: true });
    // The same manifest again under another tag: not new, and the tag moves to it.
    await expect(bus.request(putManifest, body(manifest, ['stable'], [config, layer]))).resolves.toMatchObject({ created: false });
    for (const tag of ['v1', 'latest', 'stable']) await expect(bus.request(getManifest, { repository: repo, reference: tag })).resolves.toMatchObject({ digest: manifest });
  });

  it('registers hosts, updates them on re-registration and pages through them', async () => {
    for (const id of ['host-c', 'host-a', 'host-b']) await bus.request(registerHost, host(id));
    await bus.request(registerHost, { ...host('host-a'), address: '10.0.0.9' });
    const first = await bus.request(listHosts, { limit: 2 });
    expect(first.items.map((h) => h.id)).toEqual(['host-a', 'host-b']);
    expect(first.items[0]).toMatchObject({ address: '10.0.0.9', state: 'ready', labels: { zone: 'a' } });
    const second = await bus.request(listHosts, { limit: 2, cursor: first.nextCursor! });
    expect(second).toMatchObject({ items: [{ id: 'host-c' }], nextCursor: null });
    await expect(bus.request(getHost, { id: 'missing' })).rejects.toThrow(NotFoundError);
  });

  it('marks a host down when its heartbeats stop, and ready again when they resume', async () => {
    await bus.request(registerHost, host('host-quiet'));
    await new Promise((r) => setTimeout(r, 2_200));
    expect((await bus.request(getHost, { id: 'host-quiet' })).state).toBe('down');
    await bus.emit(hostHeartbeat, { id: 'host-quiet', at: new Date().toISOString() });
    await new Promise((r) => setTimeout(r, 200));
    expect((await bus.request(getHost, { id: 'host-quiet' })).state).toBe('ready');
    // A heartbeat with fresh capacity (a filling disk) replaces what registration recorded.
    const lowDisk = { ...host('host-quiet').capacity, diskFreeBytes: 4096, diskLow: true };
    await bus.emit(hostHeartbeat, { id: 'host-quiet', at: new Date().toISOString(), capacity: lowDisk });
    await eventually(async () => expect((await bus.request(getHost, { id: 'host-quiet' })).capacity).toEqual(lowDisk));
    // Both changes are in the event history, each once (the later heartbeats change nothing).
    const history = await bus.request(listEvents, { since: new Date(Date.now() - 60_000).toISOString(), until: new Date().toISOString(), types: ['host'] });
    expect(history.items.filter((e) => e.id === 'host-quiet').map((e) => [e.action, e.teamId, e.attributes])).toEqual([
      ['down', null, { address: '10.0.0.1' }],
      ['ready', null, { address: '10.0.0.1' }],
    ]);
  }, 10_000);
});

describe('host liveness events with two metadata replicas on one PostgreSQL', () => {
  it('records a host going down and coming back once, though both replicas sweep', async () => {
    const db = await createTestDatabase();
    const brokers = [new InProcessBroker(), new InProcessBroker()];
    const replicas: RunningService[] = [];
    try {
      for (const broker of brokers) replicas.push(await startMetadata(config({ DATABASE_URL: db.url }), { kind: 'in-process', broker }, logger, serviceInfo('metadata')));
      const [one, two] = brokers.map((broker) => new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test')));
      await one.request(registerHost, host('host-twice'));
      // Silent past the 1 s bound: each replica sweeps about every 333 ms, so both see it silent.
      await eventually(async () => expect((await two.request(getHost, { id: 'host-twice' })).state).toBe('down'));
      await new Promise((r) => setTimeout(r, 1_000));
      await two.emit(hostHeartbeat, { id: 'host-twice', at: new Date().toISOString() });
      await one.emit(hostHeartbeat, { id: 'host-twice', at: new Date().toISOString() });
      await eventually(async () => expect((await one.request(getHost, { id: 'host-twice' })).state).toBe('ready'));
      const history = await one.request(listEvents, { since: new Date(Date.now() - 60_000).toISOString(), until: new Date().toISOString(), types: ['host'] });
      expect(history.items.filter((e) => e.id === 'host-twice').map((e) => e.action)).toEqual(['down', 'ready']);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
      await db.drop();
    }
  }, 20_000);
});

describe('migrations', () => {
  it('run exactly once when two replicas start at the same moment on an empty database', async () => {
    const db = await createTestDatabase();
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'muelle-md-'));
      const [a, b] = await Promise.all([0, 1].map(() => openDatabase({ DATABASE_URL: db.url, MUELLE_DATA_DIR: dataDir }, logger)));
      const applied = await Promise.all([migrate(a, logger), migrate(b, logger)]);
      expect(applied.map((names) => names.length).sort()).toEqual([0, migrations.length]);
      await Promise.all([a.close(), b.close()]);
      const client = new Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
      const tables = await client.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
      expect(tables.rows[0].n).toBeGreaterThanOrEqual(15);
      await client.end();
    } finally {
      await db.drop();
    }
  });
});
