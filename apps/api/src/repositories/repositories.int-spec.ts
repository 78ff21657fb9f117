import { BusClient, BusTransport, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { getRepository, listCatalog, setRepositoryAnonymousPull } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { basicAuth, createTestDatabase, getJson, waitReady } from '@muelle/testing';
// The api's repository routes only mean something against the metadata service that keeps the
// setting (the all-in-one hosts both the same way).
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
const ADMIN_PASSWORD = 'repositories-int-secret';
jest.setTimeout(60_000);

/** `GET/PATCH /v1/repositories/{name}` on a real api and metadata (PostgreSQL), one in-process bus. */
describe('repository settings over the /v1 API', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-api-repos-'));
  const transport: BusTransport = { kind: 'in-process', broker: new InProcessBroker() };
  let metadata: RunningService;
  let api: RunningService;
  let drop: () => Promise<void>;
  let bus: BusClient;

  const admin = basicAuth('admin', ADMIN_PASSWORD);
  const ana = basicAuth('ana', 'ana-password-1');
  const call = (path: string, auth: Record<string, string> | null, init: { method?: string; body?: unknown } = {}) =>
    getJson(`${api.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(auth ?? {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? (typeof init.body === 'string' ? init.body : JSON.stringify(init.body)) : undefined,
    });
  const patch = (name: string, auth: Record<string, string> | null, body: unknown) => call(`/v1/repositories/${name}`, auth, { method: 'PATCH', body });

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    metadata = await startMetadata(
      z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: join(dataDir, 'metadata'), DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: ADMIN_PASSWORD }),
      transport,
      logger,
      serviceInfo('metadata'),
    );
    api = await startApi(
      z.object(apiConfigShape).parse({ MUELLE_API_PORT: '0', MUELLE_RECONCILE_SECONDS: '0' }),
      transport,
      logger,
      serviceInfo('api'),
    );
    await waitReady(metadata.url);
    await waitReady(api.url);
    bus = new BusClient(createBusClientProxy(transport, 'test'));
    // What a first push does to metadata: the repositories exist, closed to anonymous pulls.
    for (const name of ['alpha/app', 'beta/tool']) await bus.request(setRepositoryAnonymousPull, { name, anonymousPull: false });
    const team = await call('/v1/teams', admin, { method: 'POST', body: { name: 'alpha' } });
    expect(team.status).toBe(201);
    const user = await call('/v1/users', admin, { method: 'POST', body: { username: 'ana', password: 'ana-password-1', teamId: team.body.id } });
    expect(user.status).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await api?.close().catch(() => undefined);
    await metadata?.close().catch(() => undefined);
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('asks for credentials (401, without a Basic challenge browsers would act on) before anything else', async () => {
    const read = await call('/v1/repositories/alpha/app', null);
    expect(read.status).toBe(401);
    expect(read.headers.get('www-authenticate')).toBeNull();
    const change = await patch('alpha/app', null, { anonymousPull: true });
    expect(change).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect((await patch('alpha/app', basicAuth('admin', 'wrong-password'), { anonymousPull: true })).status).toBe(401);
    expect((await bus.request(getRepository, { name: 'alpha/app' })).anonymousPull).toBe(false);
  });

  it('reads a repository by its name with slashes, plain or encoded', async () => {
    const plain = await call('/v1/repositories/alpha/app', admin);
    expect(plain).toMatchObject({ status: 200, body: { name: 'alpha/app', anonymousPull: false, createdAt: expect.any(String) } });
    const encoded = await call('/v1/repositories/alpha%2Fapp', admin);
    expect(encoded.body).toEqual(plain.body);
    expect(await call('/v1/repositories/alpha/missing', admin)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such repository: alpha/missing' } } });
  });

  it('lets an admin open and close a repository to anonymous pulls, and audits each change', async () => {
    const opened = await patch('alpha/app', admin, { anonymousPull: true });
    expect(opened).toMatchObject({ status: 200, body: { name: 'alpha/app', anonymousPull: true } });
    // What the registry's token service reads when an anonymous client asks for `pull`.
    expect((await bus.request(getRepository, { name: 'alpha/app' })).anonymousPull).toBe(true);
    expect((await call('/v1/repositories/alpha/app', admin)).body.anonymousPull).toBe(true);

    const closed = await patch('alpha%2Fapp', admin, { anonymousPull: false });
    expect(closed.body.anonymousPull).toBe(false);
    expect((await bus.request(getRepository, { name: 'alpha/app' })).anonymousPull).toBe(false);

    const audit = await call('/v1/audit?action=repository.update', admin);
    expect(audit.status).toBe(200);
    expect(audit.body.items).toEqual([
      expect.objectContaining({ actor: 'admin', action: 'repository.update', target: 'repository:alpha/app', details: { anonymousPull: false, previous: { anonymousPull: true } } }),
      expect.objectContaining({ actor: 'admin', action: 'repository.update', target: 'repository:alpha/app', details: { anonymousPull: true, previous: { anonymousPull: false } } }),
    ]);
  });

  it("refuses members (403) even on their team's repository; another team's answers 404", async () => {
    expect(await call('/v1/repositories/alpha/app', ana)).toMatchObject({ status: 200, body: { name: 'alpha/app' } });
    expect(await call('/v1/repositories/beta/tool', ana)).toMatchObject({ status: 404, body: { error: { message: 'no such repository: beta/tool' } } });
    const refused = await patch('alpha/app', ana, { anonymousPull: true });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'PERMISSION_DENIED', message: "changing a repository's settings needs the admin role" } } });
    expect(await patch('beta/tool', ana, { anonymousPull: true })).toMatchObject({ status: 404, body: { error: { message: 'no such repository: beta/tool' } } });
    expect(await patch('alpha/app', ana, { shared: true })).toMatchObject({ status: 403, body: { error: { details: { rule: 'admin-only' } } } });
    for (const name of ['alpha/app', 'beta/tool']) expect((await bus.request(getRepository, { name })).anonymousPull).toBe(false);
    // Nothing changed; each refusal is in the log as such (outcome and rule), none as a change.
    const audit = (await call('/v1/audit?actor=ana', admin)).body.items as { action: string; target: string; details: { outcome: string } }[];
    expect(audit.map((entry) => entry.action)).toEqual(['request.denied', 'request.denied', 'request.denied']);
    expect(audit.map((entry) => `${entry.target} ${entry.details.outcome}`).sort()).toEqual([
      'PATCH /v1/repositories/alpha/app forbidden',
      'PATCH /v1/repositories/alpha/app forbidden',
      'PATCH /v1/repositories/beta/tool not-found',
    ]);
  });

  it('answers a clear 400 naming the field for a bad body or name', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['alpha/app', {}, 'body'],
      ['alpha/app', { shared: 'on' }, 'body.shared'],
      ['alpha/app', { anonymousPull: 'yes' }, 'body.anonymousPull'],
      ['alpha/app', { anonymousPull: 1 }, 'body.anonymousPull'],
      ['alpha/app', { anonymousPull: true, anonymous_pull: true }, 'body'],
      ['Alpha/App', { anonymousPull: true }, 'path.name'],
      ['alpha//app', { anonymousPull: true }, 'path.name'],
    ];
    for (const [name, body, field] of cases) {
      const answer = await patch(name, admin, body);
      expect({ name, body, status: answer.status, code: answer.body?.error?.code, field: answer.body?.error?.details?.field }).toEqual({ name, body, status: 400, code: 'INVALID_ARGUMENT', field });
      expect(answer.body.error.message.startsWith(`${field}: `)).toBe(true);
    }
    const notJson = await patch('alpha/app', admin, '{"anonymousPull": tru');
    expect(notJson.status).toBe(400);
    expect((await bus.request(getRepository, { name: 'alpha/app' })).anonymousPull).toBe(false);
  });

  it('lets an admin mark a repository shared (pullable by every signed-in user), audited', async () => {
    expect(await call('/v1/repositories/beta/tool', ana)).toMatchObject({ status: 404 });
    expect(await patch('beta/tool', admin, { shared: true })).toMatchObject({ status: 200, body: { name: 'beta/tool', shared: true, anonymousPull: false } });
    expect(await call('/v1/repositories/beta/tool', ana)).toMatchObject({ status: 200, body: { shared: true } });
    expect((await patch('beta/tool', admin, { shared: false })).body.shared).toBe(false);
    expect(await call('/v1/repositories/beta/tool', ana)).toMatchObject({ status: 404 });
    const audit = await call('/v1/audit?action=repository.update&target=repository:beta/tool', admin);
    expect(audit.body.items.map((e: { details: unknown }) => e.details)).toEqual([
      { shared: false, previous: { shared: true } },
      { shared: true, previous: { shared: false } },
    ]);
  });

  it('does not create a repository by changing one that does not exist', async () => {
    expect(await patch('alpha/typo', admin, { anonymousPull: true })).toMatchObject({ status: 404, body: { error: { message: 'no such repository: alpha/typo' } } });
    expect((await bus.request(listCatalog, { n: 100 })).repositories).toEqual(['alpha/app', 'beta/tool']);
  });
});
