import { BusClient, BusTransport, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { createTeam, createUser, listAudit, setRepositoryShared } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase } from '@muelle/testing';
// The token service decides with what metadata knows (teams, users, repository settings).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { metadataConfigShape, startMetadata } from '@muelle/app-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { registryEmbeddedConfigSchema } from '../config';
import { RunningRegistry, startRegistry } from '../registry.app';
import { randomBlob, RegistryClient, sha256 } from '../testing/oci-test-client';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
jest.setTimeout(60_000);

const ADMIN = { username: 'admin', password: 'tenancy-admin-secret' };
const ALPHA_DEV = { username: 'alpha-dev', password: 'alpha-dev-secret' };
const ALPHA_VIEW = { username: 'alpha-view', password: 'alpha-view-secret' };
const BETA_DEV = { username: 'beta-dev', password: 'beta-dev-secret' };

/** The registry's token service and `/v2/` under tenancy: real metadata on PostgreSQL, one bus. */
describe('registry tenancy (token service grants = requested ∩ decide())', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-registry-tenancy-'));
  const transport: BusTransport = { kind: 'in-process', broker: new InProcessBroker() };
  let metadata: RunningService;
  let registry: RunningRegistry;
  let drop: () => Promise<void>;
  let bus: BusClient;

  const granted = async (who: { username: string; password: string } | null, ...scopes: string[]) => {
    const url = new URL(`${registry.url}/v2/token`);
    url.searchParams.set('service', 'muelle-registry');
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const response = await fetch(url, { headers: who ? { authorization: `Basic ${Buffer.from(`${who.username}:${who.password}`).toString('base64')}` } : {} });
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { access: Array<{ name: string; actions: string[] }> };
    return { token, access: Object.fromEntries(claims.access.map((a) => [a.name, [...a.actions].sort().join(',')])) };
  };

  const pushImage = async (c: RegistryClient, name: string, tag: string) => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: Math.random() }));
    const layer = randomBlob(2000);
    for (const blob of [config, layer]) expect((await c.pushBlob(name, blob)).status).toBe(201);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
      }),
    );
    const put = await c.pushManifest(name, tag, manifest);
    return { status: put.status, layer: sha256(layer), manifest };
  };

  const auditOf = async (action: string, actor: string) => {
    for (let i = 0; i < 50; i++) {
      const { items } = await bus.request(listAudit, { limit: 100, action, actor });
      if (items.length) return items;
      await new Promise((r) => setTimeout(r, 100));
    }
    return [];
  };

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    metadata = await startMetadata(
      z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: dataDir, DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: ADMIN.password }),
      transport,
      logger,
      serviceInfo('metadata'),
    );
    bus = new BusClient(createBusClientProxy(transport, 'test'));
    const config = registryEmbeddedConfigSchema.parse({ MUELLE_REGISTRY_PORT: '0', MUELLE_DATA_DIR: dataDir, MUELLE_REGISTRY_GC_INTERVAL_SECONDS: '0' });
    registry = await startRegistry(config, transport, logger, serviceInfo('registry'));
    const alpha = await bus.request(createTeam, { name: 'alpha' });
    const beta = await bus.request(createTeam, { name: 'beta' });
    await bus.request(createUser, { ...ALPHA_DEV, role: 'member', teamId: alpha.id });
    await bus.request(createUser, { ...ALPHA_VIEW, role: 'viewer', teamId: alpha.id });
    await bus.request(createUser, { ...BETA_DEV, role: 'member', teamId: beta.id });
    const admin = new RegistryClient(registry.url, ADMIN);
    expect((await pushImage(admin, 'library/busybox', 'x')).status).toBe(201);
    expect((await pushImage(new RegistryClient(registry.url, BETA_DEV), 'beta/secret', 'v1')).status).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await registry?.close().catch(() => undefined);
    await metadata?.close().catch(() => undefined);
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("grants a member its team's repositories, pull on library/, nothing of another team", async () => {
    const { access } = await granted(
      ALPHA_DEV,
      'repository:alpha/app:pull,push,delete',
      'repository:library/busybox:pull,push,delete',
      'repository:beta/secret:pull,push,delete',
      'repository:beta/evil:*',
      'registry:catalog:*',
    );
    expect(access).toEqual({ 'alpha/app': 'delete,pull,push', 'library/busybox': 'pull', catalog: '*' });
    expect((await granted(ALPHA_VIEW, 'repository:alpha/app:pull,push,delete')).access).toEqual({ 'alpha/app': 'pull' });
    expect((await granted(ADMIN, 'repository:beta/secret:*', 'repository:library/busybox:push')).access).toEqual({ 'beta/secret': 'delete,pull,push', 'library/busybox': 'push' });
    expect((await granted(null, 'repository:library/busybox:pull', 'registry:catalog:*')).access).toEqual({});
  });

  it('refuses a member every write outside its team through /v2, and audits the refusals', async () => {
    const alphaDev = new RegistryClient(registry.url, ALPHA_DEV);
    await expect(pushImage(alphaDev, 'beta/evil', 'x')).rejects.toThrow(/POST upload: 401/);
    await expect(pushImage(alphaDev, 'library/busybox', 'x')).rejects.toThrow(/POST upload: 401/);
    expect((await alphaDev.request('GET', '/v2/beta/secret/manifests/v1')).status).toBe(401);
    expect((await alphaDev.request('GET', '/v2/beta/secret/tags/list')).status).toBe(401);
    expect((await alphaDev.request('GET', `/v2/beta/secret/referrers/${sha256('x')}`)).status).toBe(401);
    expect((await alphaDev.request('DELETE', '/v2/beta/secret/manifests/v1')).status).toBe(401);
    expect((await new RegistryClient(registry.url, BETA_DEV).request('GET', '/v2/beta/secret/tags/list')).status).toBe(200);
    const refusals = await auditOf('registry.token', 'alpha-dev');
    expect(refusals.map((e) => e.target)).toEqual(expect.arrayContaining(['repository:beta/evil', 'repository:library/busybox']));
    expect(refusals[0].details).toMatchObject({ team: 'alpha', outcome: 'denied', granted: expect.any(Array) });
  });

  it('audits pushes and deletes made straight through /v2 with who, team and outcome', async () => {
    const alphaDev = new RegistryClient(registry.url, ALPHA_DEV);
    const pushed = await pushImage(alphaDev, 'alpha/app', 'v1');
    expect(pushed.status).toBe(201);
    expect(await auditOf('registry.push', 'alpha-dev')).toEqual([
      expect.objectContaining({ target: 'repository:alpha/app', details: { reference: 'v1', digest: sha256(pushed.manifest), team: 'alpha', outcome: 'allowed' } }),
    ]);
    expect((await alphaDev.request('DELETE', `/v2/alpha/app/manifests/${sha256(pushed.manifest)}`)).status).toBe(202);
    expect(await auditOf('registry.delete', 'alpha-dev')).toEqual([expect.objectContaining({ target: 'repository:alpha/app', details: expect.objectContaining({ team: 'alpha', outcome: 'allowed' }) })]);
    expect((await pushImage(alphaDev, 'alpha/app', 'v2')).status).toBe(201);
  });

  it('lists in /v2/_catalog only what the subject may pull, page by page', async () => {
    const catalog = async (who: { username: string; password: string }, query = '') => {
      const answer = await new RegistryClient(registry.url, who).request('GET', `/v2/_catalog${query}`);
      expect(answer.status).toBe(200);
      return { names: (JSON.parse(answer.body.toString('utf8')) as { repositories: string[] }).repositories, link: answer.header('link') };
    };
    expect((await catalog(ALPHA_DEV)).names).toEqual(['alpha/app', 'library/busybox']);
    expect((await catalog(BETA_DEV)).names).toEqual(['beta/secret', 'library/busybox']);
    expect((await catalog(ADMIN)).names).toEqual(['alpha/app', 'beta/secret', 'library/busybox']);
    // Hidden names do not count against n: the first page of one holds alpha/app, the next library/busybox.
    const first = await catalog(ALPHA_DEV, '?n=1');
    expect(first).toEqual({ names: ['alpha/app'], link: expect.stringContaining('last=alpha%2Fapp') });
    expect((await catalog(ALPHA_DEV, '?n=1&last=alpha%2Fapp')).names).toEqual(['library/busybox']);
  });

  it('mounts across repositories only with pull on the source; otherwise starts a normal upload', async () => {
    const beta = await pushImage(new RegistryClient(registry.url, BETA_DEV), 'beta/secret', 'v2');
    const { token } = await granted(ALPHA_DEV, 'repository:alpha/stolen:pull,push', 'repository:beta/secret:pull');
    const refused = await fetch(`${registry.url}/v2/alpha/stolen/blobs/uploads/?mount=${beta.layer}&from=beta/secret`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(refused.status).toBe(202);
    const admin = await granted(ADMIN, 'repository:alpha/stolen:pull,push', 'repository:beta/secret:pull');
    const mounted = await fetch(`${registry.url}/v2/alpha/stolen/blobs/uploads/?mount=${beta.layer}&from=beta/secret`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}` } });
    expect(mounted.status).toBe(201);
  });

  it('opens an admin-marked shared repository to pulls by every signed-in user, writes to admins only', async () => {
    expect((await granted(ALPHA_DEV, 'repository:beta/secret:pull,push')).access).toEqual({});
    await bus.request(setRepositoryShared, { name: 'beta/secret', shared: true });
    expect((await granted(ALPHA_DEV, 'repository:beta/secret:pull,push,delete')).access).toEqual({ 'beta/secret': 'pull' });
    expect((await granted(BETA_DEV, 'repository:beta/secret:pull,push')).access).toEqual({ 'beta/secret': 'pull,push' });
    await bus.request(setRepositoryShared, { name: 'beta/secret', shared: false });
    expect((await granted(ALPHA_DEV, 'repository:beta/secret:pull')).access).toEqual({});
  });
});
