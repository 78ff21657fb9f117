import { BusClient, BusTransport, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { saveBuildRecord } from '@muelle/contracts';
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
});
