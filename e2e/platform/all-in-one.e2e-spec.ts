import { basicAuth, freePort, getJson, serviceEntry, spawnNode, waitReady, ServiceProcess } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The README's single-host mode: one process, in-process bus, embedded PGlite, blobs on disk. Started
 * without MUELLE_ADMIN_PASSWORD, as a first `npm start` is: the generated password it prints is the
 * one every case logs in with (one fresh platform, not a second one for that case).
 */
describe('all-in-one on one machine, with no external service', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-aio-'));
  let env: Record<string, string>;
  let urls: Record<string, string>;
  let platform: ServiceProcess;
  let password = '';

  beforeAll(async () => {
    const ports = { api: await freePort(), registry: await freePort(), metadata: await freePort(), builder: await freePort(), agent: await freePort() };
    env = {
      MUELLE_DATA_DIR: dataDir,
      MUELLE_API_PORT: String(ports.api),
      MUELLE_REGISTRY_PORT: String(ports.registry),
      MUELLE_METADATA_PORT: String(ports.metadata),
      MUELLE_BUILDER_PORT: String(ports.builder),
      MUELLE_AGENT_PORT: String(ports.agent),
      MUELLE_HOST_ID: 'solo',
    };
    urls = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`]));
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), env);
  });

  afterAll(async () => {
    await platform?.stop();
  });

  it('makes every service ready, and prints a generated admin password once, which works', async () => {
    for (const url of Object.values(urls)) await waitReady(url, 60_000);
    const printed = /first admin account "admin" created with password: (\S+)/.exec(platform.output());
    expect(printed).not.toBeNull();
    password = printed![1]!;
    expect((await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', password) })).status).toBe(200);
  }, 90_000);

  it('answers a request that travels api → metadata over the bus and back', async () => {
    const hosts = await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', password) });
    expect(hosts.status).toBe(200);
    expect(hosts.body.items).toEqual([expect.objectContaining({ id: 'solo', state: 'ready' })]);
  });

  it('refuses the API without credentials or with wrong ones', async () => {
    expect((await getJson(`${urls.api}/v1/hosts`)).status).toBe(401);
    const wrong = await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', 'nope') });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('UNAUTHENTICATED');
  });

  it('serves the OCI base endpoint on the registry port', async () => {
    const base = await getJson(`${urls.registry}/v2/`);
    expect(base.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('exposes Prometheus metrics including bus round trips', async () => {
    const response = await fetch(`${urls.api}/metrics`);
    const text = await response.text();
    expect(text).toMatch(/muelle_http_requests_total\{[^}]*service="api"/);
    expect(text).toMatch(/muelle_bus_request_duration_seconds_count\{[^}]*subject="muelle.metadata.users.authenticate.v1"/);
  });

  it('refuses a second instance on the same data directory, without harming the first', async () => {
    const second = spawnNode('all-in-one-2', serviceEntry('all-in-one'), { ...env, MUELLE_API_PORT: '0', MUELLE_REGISTRY_PORT: '0', MUELLE_METADATA_PORT: '0', MUELLE_BUILDER_PORT: '0', MUELLE_AGENT_PORT: '0' });
    const { code } = await second.exited;
    expect(code).toBe(3);
    expect(second.output()).toMatch(/data directory .* is in use by another Muelle process \(pid \d+\)/);
    await waitReady(urls.metadata);
    expect((await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', password) })).status).toBe(200);
  }, 30_000);

  it('keeps its data across a restart: the same password, none generated again, MUELLE_ADMIN_PASSWORD ignored once an admin exists', async () => {
    await platform.stop();
    platform = spawnNode('all-in-one', serviceEntry('all-in-one'), { ...env, MUELLE_ADMIN_PASSWORD: 'ignored-now-db-exists' });
    await waitReady(urls.api, 60_000);
    const hosts = await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', password) });
    expect(hosts.status).toBe(200);
    expect(hosts.body.items.map((h: { id: string }) => h.id)).toEqual(['solo']);
    expect((await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', 'ignored-now-db-exists') })).status).toBe(401);
    expect(platform.output()).not.toMatch(/created with password/);
  }, 90_000);
});
