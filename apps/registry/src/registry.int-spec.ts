import { InProcessBroker, BusClient, createBusClientProxy, BusTransport } from '@muelle/bus';
import { setRepositoryAnonymousPull } from '@muelle/contracts';
import { serviceInfo, RunningService } from '@muelle/service-kit';
import { createBlobStore, startS3Server, type BlobStore, type RunningS3Server } from '@muelle/storage';
import { createTestDatabase, getJson } from '@muelle/testing';
// The registry is only testable with the metadata service it talks to (the all-in-one hosts both the same way).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { metadataConfigShape, startMetadata } from '@muelle/app-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet, IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { z } from 'zod';
import { RegistryClient, randomBlob, sha256, withQuery } from './testing/oci-test-client';
import { registryEmbeddedConfigSchema } from './config';
import { RunningRegistry, startRegistry } from './registry.app';
import { blobKey } from './storage/keys';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
jest.setTimeout(60_000);

const ociManifest = (config: Buffer, layers: Buffer[], extra: object = {}) =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
      ...extra,
    }),
  );

describe.each(['filesystem', 's3'] as const)('registry on the %s driver (metadata on PostgreSQL)', (driver) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-registry-int-'));
  const broker = new InProcessBroker();
  const transport: BusTransport = { kind: 'in-process', broker };
  let metadata: RunningService;
  let drop: () => Promise<void>;
  let s3: RunningS3Server | undefined;
  let store: BlobStore;
  let bus: BusClient;
  const registries: RunningRegistry[] = [];

  const storageEnv = () =>
    driver === 's3'
      ? { MUELLE_STORAGE_DRIVER: 's3', S3_ENDPOINT: `http://127.0.0.1:${s3!.port}`, S3_ACCESS_KEY: s3!.accessKey, S3_SECRET_KEY: s3!.secretKey, S3_BUCKET: 'registry-int' }
      : { MUELLE_STORAGE_DRIVER: 'filesystem' };

  /** Another replica on the same bus, database and storage. */
  const startReplica = async (env: Record<string, string> = {}) => {
    const config = registryEmbeddedConfigSchema.parse({
      MUELLE_REGISTRY_PORT: '0',
      MUELLE_DATA_DIR: dataDir,
      MUELLE_REGISTRY_AUTH: 'false',
      MUELLE_REGISTRY_GC_INTERVAL_SECONDS: '0',
      ...storageEnv(),
      ...env,
    });
    const running = await startRegistry(config, transport, logger, serviceInfo('registry'));
    registries.push(running);
    return running;
  };

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    if (driver === 's3') s3 = await startS3Server();
    const metadataConfig = z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: dataDir, DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: 'integration-secret' });
    metadata = await startMetadata(metadataConfig, transport, logger, serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy(transport, 'test'));
    await startReplica();
    store =
      driver === 's3'
        ? await createBlobStore({ driver: 's3', endPoint: '127.0.0.1', port: s3!.port, useSSL: false, accessKey: s3!.accessKey, secretKey: s3!.secretKey, bucket: 'registry-int' })
        : await createBlobStore({ driver: 'filesystem', root: join(dataDir, 'registry') });
  }, 90_000);

  afterAll(async () => {
    for (const r of registries) await r.close().catch(() => undefined);
    await metadata?.close();
    await s3?.stop();
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const client = (registry: RunningRegistry = registries[0]) => new RegistryClient(registry.url);

  const pushImage = async (c: RegistryClient, name: string, tag: string, layerSize = 5000) => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: Math.random() }));
    const layer = randomBlob(layerSize);
    expect((await c.pushBlob(name, config)).status).toBe(201);
    expect((await c.pushBlob(name, layer)).status).toBe(201);
    const manifest = ociManifest(config, [layer]);
    const put = await c.pushManifest(name, tag, manifest);
    if (put.status !== 201) throw new Error(`manifest push: ${put.status} ${put.body}`);
    return { config, layer, manifest, digest: sha256(manifest) };
  };

  const expectPullable = async (c: RegistryClient, name: string, image: { config: Buffer; layer: Buffer; manifest: Buffer; digest: string }) => {
    const manifest = await c.request('GET', `/v2/${name}/manifests/${image.digest}`);
    expect(manifest.status).toBe(200);
    expect(manifest.body.equals(image.manifest)).toBe(true);
    for (const blob of [image.config, image.layer]) {
      const got = await c.request('GET', `/v2/${name}/blobs/${sha256(blob)}`);
      expect(got.status).toBe(200);
      expect(got.body.equals(blob)).toBe(true);
    }
  };

  it('reports the blob store in /readyz', async () => {
    const ready = await getJson(`${registries[0].url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.storage).toBe('ok');
  });

  it('pushes and pulls an image, with a large manifest kept in the blob store', async () => {
    const c = client();
    const image = await pushImage(c, 'int/basic', 'v1');
    await expectPullable(c, 'int/basic', image);
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 40; i++) annotations[`k${i}`] = 'v'.repeat(10_000);
    const large = ociManifest(image.config, [image.layer], { annotations });
    expect((await c.pushManifest('int/basic', 'large', large)).status).toBe(201);
    const got = await c.request('GET', '/v2/int/basic/manifests/large');
    expect(got.body.equals(large)).toBe(true);
    const stored: string[] = [];
    for await (const entry of store.list('manifests/')) stored.push(entry.key);
    expect(stored.length).toBeGreaterThanOrEqual(1);
    // Deleting the manifest deletes its stored body.
    expect((await c.request('DELETE', `/v2/int/basic/manifests/${sha256(large)}`)).status).toBe(202);
    const after: string[] = [];
    for await (const entry of store.list('manifests/')) after.push(entry.key);
    expect(after.length).toBe(stored.length - 1);
  });

  it('serves a blob to a client that stops reading no faster than it reads (backpressure: the store is not drained into memory)', async () => {
    const c = client();
    const blob = randomBlob(48 * 1024 * 1024);
    expect((await c.pushBlob('int/slow-reader', blob)).status).toBe(201);
    // Bytes this process read through read(2), the store's reads among them (the registry runs in this process).
    const readSoFar = () => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
    const received: Buffer[] = [];
    let response!: IncomingMessage;
    await new Promise<void>((resolve, reject) =>
      httpGet(`${registries[0]!.url}/v2/int/slow-reader/blobs/${sha256(blob)}`, (res) => {
        response = res;
        res.once('data', (chunk: Buffer) => (received.push(chunk), res.pause(), resolve()));
      }).on('error', reject),
    );
    const before = readSoFar();
    await new Promise((r) => setTimeout(r, 1_000));
    // Without backpressure the whole 48 MiB is read from the store within this second (twice over on
    // s3: s3rver's file reads and the client's socket reads, both in this process); with it, socket
    // buffers and a few stream chunks (measured: ~17 MiB on s3, counted twice, less on the filesystem;
    // 29.6 MiB once in CI, where this process's other reads count too). Drained would be ≥ 96 MiB on s3.
    expect(readSoFar() - before).toBeLessThan((blob.length * 3) / 4);
    response.on('data', (chunk: Buffer) => received.push(chunk));
    await new Promise((resolve) => response.on('end', resolve).resume());
    expect(Buffer.concat(received).equals(blob)).toBe(true);
  });

  it('answers 404 for a deleted blob and manifest right after the delete, on this replica and on another', async () => {
    const c = client();
    const other = client(await startReplica());
    const image = await pushImage(c, 'int/deleted', 'one');
    // Another repository holding the same bytes keeps them: a delete removes one repository's link.
    expect((await c.pushBlob('int/keeps', image.layer)).status).toBe(201);
    const blob = `/v2/int/deleted/blobs/${sha256(image.layer)}`;
    const manifest = `/v2/int/deleted/manifests/${image.digest}`;
    // Both replicas have served both (anything they remember of them is warm now).
    for (const r of [c, other]) for (const [method, path] of [['GET', blob], ['HEAD', blob], ['GET', manifest]]) expect((await r.request(method, path)).status).toBe(200);
    expect((await c.request('DELETE', blob)).status).toBe(202);
    expect((await c.request('DELETE', manifest)).status).toBe(202);
    for (const r of [c, other]) {
      expect((await r.request('GET', blob)).status).toBe(404);
      expect((await r.request('HEAD', blob)).status).toBe(404);
      expect((await r.request('GET', manifest)).status).toBe(404);
      expect((await r.request('GET', '/v2/int/deleted/manifests/one')).status).toBe(404);
      const kept = await r.request('GET', `/v2/int/keeps/blobs/${sha256(image.layer)}`);
      expect(kept.status).toBe(200);
      expect(kept.body.equals(image.layer)).toBe(true);
    }
  });

  it('continues a chunked upload on another replica and after the first one stopped', async () => {
    const first = await startReplica();
    const bytes = randomBlob(3 * 1024 * 1024 + 17);
    const digest = sha256(bytes);
    const a = client(first);
    const start = await a.request('POST', '/v2/int/resume/blobs/uploads/', { headers: { 'content-length': '0' } });
    const one = await a.request('PATCH', start.header('location')!, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${1024 * 1024 - 1}` },
      body: bytes.subarray(0, 1024 * 1024),
    });
    expect(one.status).toBe(202);
    await first.close();
    const b = client(await startReplica());
    const status = await b.request('GET', one.header('location')!);
    expect(status.status).toBe(204);
    expect(status.header('range')).toBe(`0-${1024 * 1024 - 1}`);
    const two = await b.request('PATCH', one.header('location')!, { headers: { 'content-type': 'application/octet-stream' }, body: bytes.subarray(1024 * 1024) });
    expect(two.status).toBe(202);
    expect(two.header('range')).toBe(`0-${bytes.length - 1}`);
    expect((await b.request('PUT', withQuery(two.header('location')!, { digest }))).status).toBe(201);
    expect((await b.request('GET', `/v2/int/resume/blobs/${digest}`)).body.equals(bytes)).toBe(true);
  });

  it('moves one upload back and forth between two live replicas, each remembering an older state', async () => {
    // Replicas remember the sessions they served to save a metadata round trip; each step below
    // reaches a replica whose memory of the session is out of date.
    const a = client(await startReplica());
    const b = client(await startReplica());
    const bytes = randomBlob(5 * 1024 * 1024 + 3);
    const digest = sha256(bytes);
    const mib = 1024 * 1024;
    const patch = (c: ReturnType<typeof client>, location: string, from: number, to: number, withRange: boolean) =>
      c.request('PATCH', location, {
        headers: { 'content-type': 'application/octet-stream', ...(withRange ? { 'content-range': `${from}-${to - 1}` } : {}) },
        body: bytes.subarray(from, to),
      });
    const start = await a.request('POST', '/v2/int/pingpong/blobs/uploads/', { headers: { 'content-length': '0' } });
    const location = start.header('location')!;
    expect((await patch(a, location, 0, mib, true)).status).toBe(202);
    expect((await patch(b, location, mib, 2 * mib, true)).status).toBe(202);
    // a remembers offset 1 MiB: a streamed chunk (no Content-Range) is appended where the upload really is.
    const streamed = await patch(a, location, 2 * mib, 3 * mib, false);
    expect(streamed.status).toBe(202);
    expect(streamed.header('range')).toBe(`0-${3 * mib - 1}`);
    // b remembers offset 2 MiB: a chunk with the right Content-Range is taken, a wrong one refused.
    expect((await patch(b, location, 3 * mib, 4 * mib, true)).status).toBe(202);
    const replay = await patch(a, location, 2 * mib, 3 * mib, true);
    expect(replay.status).toBe(416);
    expect(replay.header('range')).toBe(`0-${4 * mib - 1}`);
    expect((await patch(a, location, 4 * mib, bytes.length, true)).status).toBe(202);
    // b remembers offset 4 MiB: closing there must still verify the whole upload, not b's memory of it.
    const closed = await b.request('PUT', withQuery(location, { digest }));
    expect(closed.status).toBe(201);
    expect((await a.request('GET', `/v2/int/pingpong/blobs/${digest}`)).body.equals(bytes)).toBe(true);
    // A digest that really does not match is still refused after the second look.
    const other = await a.request('POST', '/v2/int/pingpong/blobs/uploads/', { headers: { 'content-length': '0' } });
    expect((await patch(a, other.header('location')!, 0, mib, true)).status).toBe(202);
    const wrong = await a.request('PUT', withQuery(other.header('location')!, { digest: sha256(bytes.subarray(1)) }));
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body.toString()).errors[0].code).toBe('DIGEST_INVALID');
  });

  it('lets two clients push the same blob and the same tag at once: both succeed, one copy, a consistent tag', async () => {
    const c = client();
    const bytes = randomBlob(2 * 1024 * 1024);
    const digest = sha256(bytes);
    const results = await Promise.all([c.pushBlob('int/race', bytes), client(registries[0]).pushBlob('int/race', bytes), c.pushBlob('int/race-other', bytes)]);
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    const copies: string[] = [];
    for await (const entry of store.list(blobKey(digest))) copies.push(entry.key);
    expect(copies).toEqual([blobKey(digest)]);

    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    await c.pushBlob('int/race', config);
    const manifests = [ociManifest(config, [bytes]), ociManifest(config, [], { annotations: { variant: 'b' } })];
    const puts = await Promise.all(manifests.map((m) => c.pushManifest('int/race', 'latest', m)));
    expect(puts.map((p) => p.status)).toEqual([201, 201]);
    const tagged = await c.request('GET', '/v2/int/race/manifests/latest');
    expect(tagged.status).toBe(200);
    expect(manifests.some((m) => m.equals(tagged.body))).toBe(true);
  });

  it('collects garbage online: unreferenced blobs and orphans go, nothing referenced by pushes in flight does', async () => {
    const c = client();
    const garbage = randomBlob(1000);
    expect((await c.pushBlob('int/gc', garbage)).status).toBe(201);
    const kept = await pushImage(c, 'int/gc', 'kept');
    // Bytes without any metadata row, as a crash between write and commit would leave.
    const orphan = randomBlob(100);
    await store.write(blobKey(sha256(orphan)), Readable.from([orphan]));
    await new Promise((r) => setTimeout(r, 2_200));

    // Pushes running during the collections; each finishes well within the 2-second grace period.
    let pushing = true;
    const pushed: { name: string; image: Awaited<ReturnType<typeof pushImage>> }[] = [];
    const pushers = [0, 1, 2].map(async (worker) => {
      for (let i = 0; pushing; i++) {
        const name = `int/gc-live-${worker}`;
        pushed.push({ name, image: await pushImage(client(), name, `t${i}`, 20_000) });
      }
    });
    const reports = [];
    for (let i = 0; i < 4; i++) {
      reports.push(await registries[0].collectGarbage({ graceSeconds: 2 }));
      await new Promise((r) => setTimeout(r, 300));
    }
    pushing = false;
    await Promise.all(pushers);

    const deleted = reports.flatMap((r) => r.deletedBlobs);
    expect(deleted).toEqual(expect.arrayContaining([sha256(garbage), sha256(orphan)]));
    expect(await store.stat(blobKey(sha256(garbage)))).toBeNull();
    expect(await store.stat(blobKey(sha256(orphan)))).toBeNull();
    expect((await c.request('HEAD', `/v2/int/gc/blobs/${sha256(garbage)}`)).status).toBe(404);
    expect(pushed.length).toBeGreaterThan(3);
    await expectPullable(c, 'int/gc', kept);
    for (const { name, image } of pushed) await expectPullable(c, name, image);
  });

  it('deletes untagged manifests by policy, but not index children', async () => {
    const c = client();
    const image = await pushImage(c, 'int/untagged', 'child');
    const config = Buffer.from('{"architecture":"arm64","os":"linux"}');
    await c.pushBlob('int/untagged', config);
    const loose = ociManifest(config, []);
    expect((await c.pushManifest('int/untagged', sha256(loose), loose)).status).toBe(201);
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.digest, size: image.manifest.length }] };
    expect((await c.pushManifest('int/untagged', 'multi', index)).status).toBe(201);
    expect((await c.request('DELETE', '/v2/int/untagged/manifests/child')).status).toBe(202);
    const report = await registries[0].collectGarbage({ graceSeconds: 3600, untaggedManifestSeconds: 0 });
    expect(report.deletedManifests).toBeGreaterThanOrEqual(1);
    expect((await c.request('GET', `/v2/int/untagged/manifests/${sha256(loose)}`)).status).toBe(404);
    expect((await c.request('GET', `/v2/int/untagged/manifests/${image.digest}`)).status).toBe(200);
  });

  it('closes uploads into the content store without leaving parts: one part moved, several concatenated', async () => {
    const c = client();
    const partsOf = async (location: string) => {
      const keys: string[] = [];
      for await (const entry of store.list(`uploads/${location.split('?')[0].split('/').pop()}/`)) keys.push(entry.key);
      return keys;
    };
    const push = async (bytes: Buffer, chunks: Buffer[]) => {
      let location = (await c.request('POST', '/v2/int/closing/blobs/uploads/', { headers: { 'content-length': '0' } })).header('location')!;
      for (const chunk of chunks) {
        location = (await c.request('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: chunk })).header('location')!;
      }
      expect(await partsOf(location)).toHaveLength(chunks.length);
      const put = await c.request('PUT', withQuery(location, { digest: sha256(bytes) }));
      expect(put.status).toBe(201);
      expect(await partsOf(location)).toEqual([]);
      const info = await store.stat(blobKey(sha256(bytes)));
      expect(info?.size).toBe(bytes.length);
      // The stored blob counts as new (GC reaps old objects nothing references).
      expect(info!.modifiedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect((await c.request('GET', `/v2/int/closing/blobs/${sha256(bytes)}`)).body.equals(bytes)).toBe(true);
    };
    const single = randomBlob(2 * 1024 * 1024 + 5);
    await push(single, [single]);
    const multi = randomBlob(1024 * 1024 + 7);
    await push(multi, [multi.subarray(0, 1000), multi.subarray(1000)]);
  });

  it('purges abandoned uploads with their bytes', async () => {
    const purging = await startReplica({ MUELLE_REGISTRY_UPLOAD_TTL_SECONDS: '1' });
    const c = client(purging);
    const start = await c.request('POST', '/v2/int/abandoned/blobs/uploads/', { headers: { 'content-length': '0' } });
    const id = start.header('location')!.split('/').pop()!;
    await c.request('PATCH', start.header('location')!, { headers: { 'content-type': 'application/octet-stream' }, body: randomBlob(1000) });
    const parts = async () => {
      const keys: string[] = [];
      for await (const entry of store.list(`uploads/${id}/`)) keys.push(entry.key);
      return keys;
    };
    expect(await parts()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_500));
    const report = await purging.collectGarbage({ graceSeconds: 3600 });
    expect(report.purgedUploads).toBeGreaterThanOrEqual(1);
    expect((await c.request('GET', start.header('location')!)).status).toBe(404);
    expect(await parts()).toEqual([]);
  });

  it('deletes old upload files no session records, and keeps recorded parts and fresh files', async () => {
    const purging = await startReplica({ MUELLE_REGISTRY_UPLOAD_TTL_SECONDS: '1' });
    const c = client(purging);
    const start = await c.request('POST', '/v2/int/stray/blobs/uploads/', { headers: { 'content-length': '0' } });
    const location = start.header('location')!;
    const id = location.split('/').pop()!;
    // Left by a chunk whose request died: one in the live session's folder, one of a session long gone.
    await store.write(`uploads/${id}/000000000000000-dead`, Readable.from([randomBlob(100)]));
    await store.write(`uploads/${randomUUID()}/000000000000000-gone`, Readable.from([randomBlob(100)]));
    await new Promise((r) => setTimeout(r, 1_500));
    // The session stays alive (touched now), and a file written now is too young to judge.
    const bytes = randomBlob(1000);
    expect((await c.request('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: bytes })).status).toBe(202);
    await store.write(`uploads/${randomUUID()}/000000000000000-young`, Readable.from([randomBlob(100)]));
    await purging.collectGarbage({ graceSeconds: 3600 });
    const left: string[] = [];
    for await (const entry of store.list('uploads/')) left.push(entry.key);
    expect(left.filter((key) => key.endsWith('-dead') || key.endsWith('-gone'))).toEqual([]);
    expect(left.filter((key) => key.endsWith('-young'))).toHaveLength(1);
    expect(left.filter((key) => key.startsWith(`uploads/${id}/`))).toHaveLength(1);
    expect((await c.request('PUT', withQuery(location, { digest: sha256(bytes) }))).status).toBe(201);
  });

  it('removes, at start, upload files of uploads no session owns (a crash mid-chunk), keeping live sessions\' parts', async () => {
    const c = client();
    const start = await c.request('POST', '/v2/int/crashed/blobs/uploads/', { headers: { 'content-length': '0' } });
    const location = start.header('location')!;
    const bytes = randomBlob(1000);
    expect((await c.request('PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: bytes })).status).toBe(202);
    const orphan = `uploads/${randomUUID()}/000000000000000-crashed`;
    await store.write(orphan, Readable.from([randomBlob(100)]));
    await startReplica(); // default TTL (a day): only the start sweep can take the orphan now
    const keys = async () => {
      const found: string[] = [];
      for await (const entry of store.list('uploads/')) found.push(entry.key);
      return found;
    };
    for (let i = 0; i < 50 && (await keys()).includes(orphan); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await keys()).not.toContain(orphan);
    expect((await c.request('PUT', withQuery(location, { digest: sha256(bytes) }))).status).toBe(201);
  });

  it('with auth on: tokens by scope, anonymous pull only where enabled, mount needs pull on the source', async () => {
    const secured = await startReplica({ MUELLE_REGISTRY_AUTH: 'true' });
    const admin = new RegistryClient(secured.url, { username: 'admin', password: 'integration-secret' });
    const image = await pushImage(admin, 'int/private', 'v1');
    const anonymous = new RegistryClient(secured.url);
    expect((await anonymous.request('GET', '/v2/int/private/manifests/v1')).status).toBe(401);
    expect((await anonymous.pushBlob('int/private', randomBlob(10)).catch(() => ({ status: 401 }))).status).toBe(401);

    await bus.request(setRepositoryAnonymousPull, { name: 'int/private', anonymousPull: true });
    const fresh = new RegistryClient(secured.url);
    const pulled = await fresh.request('GET', '/v2/int/private/manifests/v1');
    expect(pulled.status).toBe(200);
    expect(pulled.body.equals(image.manifest)).toBe(true);

    const wrong = await fetch(`${secured.url}/v2/token?service=muelle-registry&scope=repository:int/private:pull`, {
      headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);

    // A token with push on the target but no pull on the source: the mount is refused with 202.
    const tokenResponse = await fetch(`${secured.url}/v2/token?service=muelle-registry&scope=repository:int/target:pull,push`, {
      headers: { authorization: `Basic ${Buffer.from('admin:integration-secret').toString('base64')}` },
    });
    const { token } = (await tokenResponse.json()) as { token: string };
    const mount = await fetch(`${secured.url}/v2/int/target/blobs/uploads/?mount=${sha256(image.layer)}&from=int/private`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(mount.status).toBe(202);
    // A token for another repository does not open this one.
    const elsewhere = await fetch(`${secured.url}/v2/int/private/manifests/v1`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });
});
