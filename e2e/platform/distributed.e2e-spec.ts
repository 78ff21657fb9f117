import {
  basicAuth,
  createTestDatabase,
  eventually,
  freePort,
  getJson,
  NATS_TEST_URL,
  serviceEntry,
  spawnNode,
  ServiceProcess,
  TcpProxy,
  uniqueBusNamespace,
  waitReady,
} from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';

const SERVICES = ['metadata', 'registry', 'builder', 'agent', 'api'] as const;
const natsTarget = new URL(NATS_TEST_URL);

/**
 * Each service its own process, on real NATS and real PostgreSQL. NATS and PostgreSQL are reached
 * through TCP proxies so the test can take them away and bring them back.
 */
describe('distributed platform on NATS and PostgreSQL', () => {
  const natsProxy = new TcpProxy(natsTarget.hostname, Number(natsTarget.port || 4222));
  const pgProxy = new TcpProxy('127.0.0.1', 5432);
  const processes: ServiceProcess[] = [];
  const urls: Record<string, string> = {};
  let dropDatabase: () => Promise<void>;
  let commonEnv: Record<string, string>;
  let registryPort: number;

  // Each process its own data folder, as on separate machines: nothing is shared but NATS and PostgreSQL.
  const dataDirs: Record<string, string> = {};
  const children: Record<string, ServiceProcess> = {};
  const start = async (service: string, extra: Record<string, string> = {}) => {
    const portVariable = `MUELLE_${service.toUpperCase()}_PORT`;
    const port = Number(extra[portVariable] ?? (await freePort()));
    // A restarted service keeps its data folder, as on its own machine.
    dataDirs[service] ??= mkdtempSync(join(tmpdir(), `muelle-dist-${service}-`));
    const child = spawnNode(service, serviceEntry(service), { ...commonEnv, MUELLE_DATA_DIR: dataDirs[service], [portVariable]: String(port), ...extra });
    processes.push(child);
    children[service] = child;
    return { child, url: `http://127.0.0.1:${port}` };
  };
  const extraOf = (service: string): Record<string, string> =>
    service === 'registry' ? { MUELLE_REGISTRY_PORT: String(registryPort) } : { MUELLE_REGISTRY_ADDRESS: `127.0.0.1:${registryPort}` };
  const admin = basicAuth('admin', 'distributed-pw');

  beforeAll(async () => {
    const db = await createTestDatabase();
    dropDatabase = db.drop;
    await natsProxy.start();
    await pgProxy.start();
    const dbUrl = new URL(db.url);
    dbUrl.port = String(pgProxy.port);
    commonEnv = {
      NATS_URL: `nats://127.0.0.1:${natsProxy.port}`,
      // The machine's shared test NATS has no users: this platform says the open bus is deliberate.
      MUELLE_BUS_INSECURE: 'true',
      DATABASE_URL: dbUrl.toString(),
      MUELLE_ADMIN_PASSWORD: 'distributed-pw',
      MUELLE_HOST_ID: 'host-a',
      MUELLE_BUS_NAMESPACE: uniqueBusNamespace(),
    };
    registryPort = await freePort();
    for (const service of SERVICES) urls[service] = (await start(service, extraOf(service))).url;
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await natsProxy.stop();
    await pgProxy.stop();
    await dropDatabase?.();
  });

  it('makes every service ready', async () => {
    for (const service of SERVICES) await waitReady(urls[service], 60_000);
  }, 90_000);

  it('answers a request that travels api → metadata over NATS and back', async () => {
    const hosts = await eventually(async () => {
      const response = await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', 'distributed-pw') });
      if (response.body?.items?.length !== 1) throw new Error(JSON.stringify(response.body));
      return response;
    });
    expect(hosts.body.items[0]).toMatchObject({ id: 'host-a', state: 'ready', capacity: { cpus: expect.any(Number) } });
  }, 30_000);

  it('builds through the api with a context the api streams to the builder (no shared folder)', async () => {
    const tar = pack();
    tar.entry({ name: 'Dockerfile' }, 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    tar.entry({ name: 'hello.txt' }, 'hello from a separate builder\n');
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of tar) chunks.push(chunk as Buffer);
    const response = await fetch(`${urls.api}/v1/builds?t=dist/hello:v1`, {
      method: 'POST',
      headers: { ...basicAuth('admin', 'distributed-pw'), 'content-type': 'application/x-tar' },
      body: Buffer.concat(chunks),
    });
    const lines = (await response.text()).trim().split('\n').map((line) => JSON.parse(line));
    const done = lines.find((line) => line.status === 'done');
    expect(done).toMatchObject({ pushed: [{ reference: expect.stringContaining('dist/hello:v1'), digest: expect.stringMatching(/^sha256:/) }] });
    const inspect = await getJson(`${urls.api}/v1/images/inspect?image=dist/hello:v1`, { headers: basicAuth('admin', 'distributed-pw') });
    expect(inspect.status).toBe(200);
    expect(JSON.stringify(inspect.body)).toContain(done.digest);
    // Its record is kept in metadata: who, state, steps and digest.
    const record = await getJson(`${urls.api}/v1/builds/${done.buildId}`, { headers: admin });
    expect(record.body).toMatchObject({ state: 'succeeded', requestedBy: 'admin', result: { digest: done.digest, steps: 2 } });
  }, 90_000);

  it('marks a build failed when its builder is killed mid-build and starts again', async () => {
    // A context whose first tar header arrives, then nothing: the build is running, waiting for bytes.
    const header = pack();
    header.entry({ name: 'Dockerfile', size: 4096 });
    const first = (await header[Symbol.asyncIterator]().next()).value as Buffer;
    const upload = new AbortController();
    const body = new ReadableStream({ start: (controller) => controller.enqueue(new Uint8Array(first)) });
    const stalled = fetch(`${urls.api}/v1/builds?t=dist/lost:v1`, { method: 'POST', headers: { ...admin, 'content-type': 'application/x-tar' }, body, signal: upload.signal, duplex: 'half' } as RequestInit).catch((error: Error) => error);
    const running = await eventually(async () => {
      const list = await getJson(`${urls.api}/v1/builds`, { headers: admin });
      const build = list.body.items.find((b: { tags: string[]; state: string }) => b.tags.some((t) => t.endsWith('dist/lost:v1')));
      if (build?.state !== 'running') throw new Error(JSON.stringify(list.body));
      return build;
    });
    children.builder.child.kill('SIGKILL');
    await children.builder.exited;
    upload.abort();
    await stalled;
    urls.builder = (await start('builder', extraOf('builder'))).url;
    await waitReady(urls.builder, 60_000);
    const failed = await eventually(async () => {
      const record = await getJson(`${urls.api}/v1/builds/${running.id}`, { headers: admin });
      if (record.body.state === 'running') throw new Error('still running');
      return record.body;
    });
    expect(failed).toMatchObject({ state: 'failed', error: { message: 'the builder stopped while this build was running' } });
  }, 90_000);

  it('turns not-ready when NATS goes away, keeps answering /healthz, and recovers by itself', async () => {
    await natsProxy.cut();
    await eventually(async () => {
      const { status } = await getJson(`${urls.api}/readyz`);
      if (status !== 503) throw new Error(`api still ready (${status})`);
    });
    expect((await getJson(`${urls.api}/healthz`)).status).toBe(200);
    expect((await getJson(`${urls.metadata}/healthz`)).status).toBe(200);
    await natsProxy.restore();
    for (const service of SERVICES) await waitReady(urls[service], 30_000);
    const hosts = await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', 'distributed-pw') });
    expect(hosts.status).toBe(200);
  }, 90_000);

  it('turns metadata not-ready when PostgreSQL goes away, and recovers by itself', async () => {
    await pgProxy.cut();
    await eventually(async () => {
      const { status, body } = await getJson(`${urls.metadata}/readyz`);
      if (status !== 503 || body.checks.database === 'ok') throw new Error(`metadata still ready (${status})`);
    });
    // The API stays up and reports the failure as a clear error, not a hang.
    const during = await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', 'distributed-pw') });
    expect(during.status).toBeGreaterThanOrEqual(500);
    await pgProxy.restore();
    await waitReady(urls.metadata, 30_000);
    const after = await getJson(`${urls.api}/v1/hosts`, { headers: basicAuth('admin', 'distributed-pw') });
    expect(after.status).toBe(200);
  }, 90_000);

  it('runs migrations exactly once when two more metadata replicas start together on a new database', async () => {
    const db = await createTestDatabase();
    try {
      const dbUrl = new URL(db.url);
      dbUrl.port = String(pgProxy.port);
      const replicas = await Promise.all([0, 1].map(() => start('metadata', { DATABASE_URL: dbUrl.toString() })));
      for (const r of replicas) await waitReady(r.url, 60_000);
      const migrated = replicas.filter((r) => r.child.output().includes('"migrations applied"'));
      const upToDate = replicas.filter((r) => r.child.output().includes('"database schema up to date"'));
      expect(migrated).toHaveLength(1);
      expect(upToDate).toHaveLength(1);
      await Promise.all(replicas.map((r) => r.child.stop()));
    } finally {
      await db.drop();
    }
  }, 90_000);

  it('refuses to start with a bad configuration, naming the variable in one line', async () => {
    const bad = spawnNode('api-bad', serviceEntry('api'), { NATS_URL: 'http://not-nats', MUELLE_API_PORT: '0' });
    const { code } = await bad.exited;
    expect(code).toBe(2);
    expect(bad.output().trim().split('\n')).toEqual(['muelle api: invalid configuration: NATS_URL: must be a URL (nats: or tls:)']);
    const missing = spawnNode('registry-bad', serviceEntry('registry'), { NATS_URL: 'nats://127.0.0.1:4222', MUELLE_STORAGE_DRIVER: 's3' });
    expect((await missing.exited).code).toBe(2);
    expect(missing.output()).toMatch(/S3_ENDPOINT: is required when MUELLE_STORAGE_DRIVER=s3/);
  });
});
