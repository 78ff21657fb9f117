import { BusClient, BusTransport, createBusClientProxy, creditPayload, Frame, InProcessBroker, inProcessStreams, setStreamLiveness, StreamEnd, streamLiveness } from '@muelle/bus';
import { listBuildCache, pruneBuildCache, saveBuildRecord, startBuild } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { basicAuth, createTestDatabase, getJson, waitReady } from '@muelle/testing';
// Build records are kept by metadata: the api's build routes are tested against it (the all-in-one
// hosts both the same way); the builder's side is in apps/builder/test/bus.int-spec.ts.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { metadataConfigShape, startMetadata } from '@muelle/app-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { apiConfigShape } from '../config';
import { startApi } from '../api.app';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ADMIN_PASSWORD = 'builds-int-secret';
const BUILDER = 'ab'.repeat(16);
const DIGEST = `sha256:${'c'.repeat(64)}`;
jest.setTimeout(60_000);

/** `GET /v1/builds` and `/v1/builds/{id}` on a real api and metadata (PostgreSQL), one in-process bus. */
describe('build records over the /v1 API', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-api-builds-'));
  const transport: BusTransport = { kind: 'in-process', broker: new InProcessBroker() };
  let metadata: RunningService;
  let api: RunningService;
  let drop: () => Promise<void>;
  let bus: BusClient;
  const teams: Record<string, string> = {};

  const admin = basicAuth('admin', ADMIN_PASSWORD);
  const ana = basicAuth('ana', 'ana-password-1');
  const bob = basicAuth('bob', 'bob-password-1');
  const call = (path: string, auth: Record<string, string>, method = 'GET', body?: unknown) =>
    getJson(`${api.url}${path}`, { method, headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    metadata = await startMetadata(
      z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: join(dataDir, 'metadata'), DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: ADMIN_PASSWORD }),
      transport,
      logger,
      serviceInfo('metadata'),
    );
    api = await startApi(z.object(apiConfigShape).parse({ MUELLE_API_PORT: '0', MUELLE_RECONCILE_SECONDS: '0' }), transport, logger, serviceInfo('api'));
    await waitReady(metadata.url);
    await waitReady(api.url);
    bus = new BusClient(createBusClientProxy(transport, 'test'));
    for (const [team, user] of [['alpha', 'ana'], ['beta', 'bob']]) {
      teams[team] = (await call('/v1/teams', admin, 'POST', { name: team })).body.id;
      expect((await call('/v1/users', admin, 'POST', { username: user, password: `${user}-password-1`, teamId: teams[team] })).status).toBe(201);
    }
    // What the builder saves: a finished build of each team, and one still running.
    const at = (minute: number) => new Date(Date.UTC(2026, 11, 3, 12, minute)).toISOString();
    await bus.request(saveBuildRecord, {
      id: 'a1a1a1a1a1a1a1a1',
      builderId: BUILDER,
      state: 'succeeded',
      tags: ['alpha/app:v1'],
      requestedBy: 'ana',
      teamId: teams.alpha,
      startedAt: at(1),
      finishedAt: at(2),
      result: { buildId: 'a1a1a1a1a1a1a1a1', digest: DIGEST, configDigest: DIGEST, pushed: [{ reference: 'alpha/app:v1', digest: DIGEST }], steps: 3, cachedSteps: 1, durationMs: 1500 },
    });
    await bus.request(saveBuildRecord, {
      id: 'b2b2b2b2b2b2b2b2',
      builderId: BUILDER,
      state: 'failed',
      tags: ['beta/tool:v1'],
      requestedBy: 'bob',
      teamId: teams.beta,
      startedAt: at(3),
      finishedAt: at(4),
      error: { code: 'FAILED_PRECONDITION', message: 'RUN exited 3', details: { kind: 'run-failed', exitCode: 3 } },
    });
    await bus.request(saveBuildRecord, { id: 'a3a3a3a3a3a3a3a3', builderId: BUILDER, state: 'running', tags: [], requestedBy: 'ana', teamId: teams.alpha, startedAt: at(5) });
  }, 90_000);

  afterAll(async () => {
    await api?.close();
    await metadata?.close();
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("lists a member's team's builds only, newest first, with who, state, steps and digests", async () => {
    const list = await call('/v1/builds', ana);
    expect(list.status).toBe(200);
    expect(list.body.items.map((b: { id: string }) => b.id)).toEqual(['a3a3a3a3a3a3a3a3', 'a1a1a1a1a1a1a1a1']);
    expect(list.body.items[1]).toMatchObject({ state: 'succeeded', requestedBy: 'ana', teamId: teams.alpha, result: { steps: 3, cachedSteps: 1, digest: DIGEST, configDigest: DIGEST } });
    expect(list.body.items[0]).not.toHaveProperty('finishedAt');
  });

  it("answers 404 for another team's build, as for an unknown one", async () => {
    expect(await call('/v1/builds/b2b2b2b2b2b2b2b2', ana)).toMatchObject({ status: 404, body: { error: { message: 'no such build: b2b2b2b2b2b2b2b2' } } });
    expect(await call('/v1/builds/ffffffffffffffff', ana)).toMatchObject({ status: 404 });
    expect(await call('/v1/builds/not-an-id!', ana)).toMatchObject({ status: 404 });
    expect(await call('/v1/builds/b2b2b2b2b2b2b2b2', bob)).toMatchObject({ status: 200, body: { state: 'failed', error: { details: { kind: 'run-failed', exitCode: 3 } } } });
  });

  it('shows an admin every team, and pages with a cursor', async () => {
    const first = await call('/v1/builds?limit=2', admin);
    expect(first.body.items.map((b: { id: string }) => b.id)).toEqual(['a3a3a3a3a3a3a3a3', 'b2b2b2b2b2b2b2b2']);
    const rest = await call(`/v1/builds?limit=2&cursor=${first.body.nextCursor}`, admin);
    expect(rest.body).toEqual({ items: [expect.objectContaining({ id: 'a1a1a1a1a1a1a1a1' })], nextCursor: null });
    expect(await call('/v1/builds?cursor=bad', admin)).toMatchObject({ status: 400 });
    expect(await call('/v1/builds?limit=0', admin)).toMatchObject({ status: 400 });
  });

  // Last: its record is the newest, which the listings above do not expect.
  it('sends the caller\'s scope to the builder for the build cache: /v1 and the Docker API, filters as dockerd', async () => {
    const broker = (transport as { broker: InProcessBroker }).broker;
    const seen: unknown[] = [];
    const entry = { id: 'e'.repeat(64), parent: null, scope: `team:${teams.alpha}`, description: 'RUN x', inUse: false, size: 42, createdAt: new Date().toISOString(), lastUsedAt: new Date().toISOString(), usageCount: 1 };
    const stops = [
      broker.handleRequests(listBuildCache.subject, async (data) => (seen.push(['list', data]), { entries: [entry] })),
      broker.handleRequests(pruneBuildCache.subject, async (data) => (seen.push(['prune', data]), { deleted: [entry.id], spaceReclaimed: 42 })),
    ];
    try {
      expect((await call('/v1/builds/cache', ana)).body).toEqual({ entries: [entry] });
      expect((await call('/v1/builds/cache/prune', ana, 'POST', { until: '24h' })).body).toEqual({ deleted: [entry.id], spaceReclaimed: 42 });
      const df = await call('/v1.41/system/df?type=build-cache', admin);
      expect(df.body).toMatchObject({ BuildCache: [{ ID: entry.id, Type: 'regular', Size: 42, Shared: false }], BuilderSize: 42 });
      const pruned = await call('/v1.41/build/prune?all=1&keep-storage=10', admin, 'POST');
      expect(pruned.body).toEqual({ CachesDeleted: [entry.id], SpaceReclaimed: 42 });
      const refused = await call(`/v1.41/build/prune?filters=${encodeURIComponent(JSON.stringify({ foo: ['x'] }))}`, bob, 'POST');
      expect(refused).toMatchObject({ status: 400, body: { message: "Invalid filter 'foo'" } });
      expect(seen).toEqual([
        ['list', { scope: `team:${teams.alpha}` }],
        ['prune', { scope: `team:${teams.alpha}`, all: false, keepStorage: 0, unusedForMs: 86_400_000 }],
        ['list', {}],
        ['prune', { all: true, keepStorage: 10 }],
      ]);
    } finally {
      for (const stop of stops) stop();
    }
  });

  it('answers 503 and fails the record when the builder falls silent mid-build (killed: no last frame)', async () => {
    const broker = (transport as { broker: InProcessBroker }).broker;
    const before = streamLiveness();
    setStreamLiveness({ keepAliveMs: 100, silenceMs: 500 });
    let builder: StreamEnd | undefined;
    let contextBytes = 0;
    // A builder that accepts, records the build running, grants credit, takes some context, then dies.
    const stop = broker.handleRequests(startBuild.subject, async (data) => {
      const request = data as { progressStreamId: string; tags: string[] };
      const startedAt = new Date().toISOString();
      await bus.request(saveBuildRecord, { id: 'dead0000dead0000', builderId: BUILDER, state: 'running', tags: request.tags, requestedBy: 'admin', teamId: null, startedAt });
      builder = new StreamEnd(inProcessStreams(broker), request.progressStreamId, 'server', (type, payload) => {
        if (type !== Frame.Stdin) return;
        contextBytes += payload.length;
        builder?.close(); // SIGKILL: no Error, no Exit, no keep-alive any more
      });
      builder.send(Frame.Credit, creditPayload(1024 * 1024));
      return { buildId: 'dead0000dead0000', startedAt, builderId: BUILDER };
    });
    try {
      const started = Date.now();
      const response = await fetch(`${api.url}/v1/builds?t=lost/app:1`, { method: 'POST', headers: { ...admin, 'content-type': 'application/x-tar' }, body: Buffer.alloc(4096) });
      const tookMs = Date.now() - started;
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: 'UNAVAILABLE', message: `builder ${BUILDER} stopped answering during the build` } });
      expect(contextBytes).toBeGreaterThan(0);
      // Silence (500 ms) noticed on a keep-alive tick (100 ms), with slack for a loaded machine.
      expect(tookMs).toBeLessThan(3000);
      let record: { body: { state: string; error?: { message: string } } } | undefined;
      for (let i = 0; i < 50 && record?.body.state !== 'failed'; i++) {
        record = await call('/v1/builds/dead0000dead0000', admin);
        if (record.body.state !== 'failed') await new Promise((r) => setTimeout(r, 100));
      }
      expect(record?.body).toMatchObject({ state: 'failed', error: { code: 'UNAVAILABLE', message: `builder ${BUILDER} stopped answering during the build` } });
    } finally {
      stop();
      builder?.close();
      setStreamLiveness(before);
    }
  });
});
