import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createBlobStore } from './create-blob-store';
import { StorageUnavailableError } from './errors';
import { S3BlobStore } from './s3-blob-store';
import { describeBlobStore } from './testing/blob-store.suite';
import { startS3Server, type RunningS3Server } from './testing/s3rver-harness';

let server: RunningS3Server;

beforeAll(async () => {
  server = await startS3Server();
});

afterAll(async () => {
  await server?.stop();
});

const freshBucket = () => `test-${randomUUID()}`;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function keysOf(store: S3BlobStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix)) keys.push(entry.key);
  return keys.sort();
}

// A fresh bucket per test keeps tests independent on one server.
// s3rver overwrites objects in place: racing writers of one key may interleave on its side.
const s3rverTraits = { atomicConcurrentOverwrite: false };

describeBlobStore(
  's3 (s3rver)',
  async () => ({ store: await S3BlobStore.create({ ...server, bucket: freshBucket() }), cleanup: async () => undefined }),
  s3rverTraits,
);

describeBlobStore(
  's3 (s3rver) with a key prefix',
  async () => ({ store: await S3BlobStore.create({ ...server, bucket: freshBucket(), prefix: 'registry/blobs-v1' }), cleanup: async () => undefined }),
  s3rverTraits,
);

describe('S3BlobStore specifics', () => {
  it('creates its bucket and reports a missing one through ping', async () => {
    const bucket = freshBucket();
    const notInitialised = new S3BlobStore({ ...server, bucket });
    await expect(notInitialised.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
    const created = await S3BlobStore.create({ ...server, bucket });
    await expect(created.ping()).resolves.toBeUndefined();
    await expect(notInitialised.ping()).resolves.toBeUndefined();
  });

  it('keeps stores with different prefixes in one bucket apart', async () => {
    const bucket = freshBucket();
    const tenantA = await S3BlobStore.create({ ...server, bucket, prefix: 'tenant-a' });
    const tenantB = await S3BlobStore.create({ ...server, bucket, prefix: 'tenant-b' });
    const whole = await S3BlobStore.create({ ...server, bucket });
    await tenantA.write('blobs/x', Readable.from([Buffer.from('from a')]));
    await tenantB.write('blobs/x', Readable.from([Buffer.from('from b')]));
    expect(await readAll(await tenantA.read('blobs/x'))).toBe('from a');
    expect(await readAll(await tenantB.read('blobs/x'))).toBe('from b');
    expect(await keysOf(tenantA)).toEqual(['blobs/x']);
    expect(await keysOf(whole)).toEqual(['tenant-a/blobs/x', 'tenant-b/blobs/x']);
    await expect(tenantA.delete('blobs/x')).resolves.toBe(true);
    expect(await tenantB.stat('blobs/x')).not.toBeNull();
  });

  it('writes objects larger than one part with a small part size', async () => {
    const store = await S3BlobStore.create({ ...server, bucket: freshBucket(), partSize: 5 * 1024 * 1024 });
    const data = Buffer.alloc(12 * 1024 * 1024 + 5, 7);
    data.write('head', 0);
    data.write('tail', data.length - 4);
    await expect(store.write('multi', Readable.from([data]))).resolves.toEqual({ size: data.length });
    const back = await readAll(await store.read('multi', { start: data.length - 4, end: data.length - 1 }));
    expect(back).toBe('tail');
    expect((await store.stat('multi'))?.size).toBe(data.length);
  });

  it('maps an unreachable server to StorageUnavailableError', async () => {
    const store = await S3BlobStore.create({ ...server, bucket: freshBucket() });
    const other = await startS3Server();
    const pointedAtStopped = new S3BlobStore({ ...other, bucket: 'gone' });
    await other.stop();
    await expect(pointedAtStopped.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(pointedAtStopped.stat('k')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(pointedAtStopped.write('k', Readable.from([Buffer.from('v')]))).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('gives up ping after pingTimeoutMs when the server accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const store = new S3BlobStore({ ...server, port, bucket: 'silent', pingTimeoutMs: 300 });
      const started = Date.now();
      await expect(store.ping()).rejects.toThrow(/did not answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('is built by createBlobStore, which creates the bucket', async () => {
    const store = await createBlobStore({ driver: 's3', ...server, bucket: freshBucket() });
    expect(store.kind).toBe('s3');
    await store.ping();
  });
});
