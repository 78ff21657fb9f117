import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { createBlobStore } from './create-blob-store';
import { BlobNotFoundError, RangeNotSatisfiableError, StorageError, StorageUnavailableError } from './errors';
import { FilesystemBlobStore } from './filesystem-blob-store';
import { describeBlobStore } from './testing/blob-store.suite';

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'muelle-fs-store-'));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describeBlobStore('filesystem', async () => {
  const root = await tempRoot();
  return {
    store: await FilesystemBlobStore.create(root),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('FilesystemBlobStore specifics', () => {
  let root: string;
  let store: FilesystemBlobStore;

  beforeEach(async () => {
    root = await tempRoot();
    store = await FilesystemBlobStore.create(root);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores key a/b/c as the file <root>/a/b/c', async () => {
    await store.write('a/b/c', Readable.from([Buffer.from('content')]));
    expect((await stat(path.join(root, 'a', 'b', 'c'))).size).toBe(7);
  });

  it('reports an unusable root through ping', async () => {
    await rm(root, { recursive: true });
    await expect(store.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
    await writeFile(root, 'not a directory');
    await expect(store.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
    await rm(root);
  });

  it('leaves no staging files behind after failed and successful writes', async () => {
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(1024);
        throw new Error('source broke');
      })(),
    );
    await expect(store.write('x', failing)).rejects.toThrow('source broke');
    await store.write('y', Readable.from([Buffer.from('ok')]));
    expect(await readdir(path.join(root, '.tmp'))).toEqual([]);
  });

  it('writes a fresh key in place (no staging file), and refuses one that exists without touching it', async () => {
    await store.write('uploads/u7/0-a', Readable.from([Buffer.from('first')]), { fresh: true });
    expect(await readdir(path.join(root, '.tmp'))).toEqual([]);
    await expect(store.write('uploads/u7/0-a', Readable.from([Buffer.from('second')]), { fresh: true })).rejects.toThrow(/already exists/);
    expect(await readAll(await store.read('uploads/u7/0-a'))).toBe('first');
  });

  it('keeps serving an open read stream the old bytes while the key is replaced', async () => {
    await store.write('replaced', Readable.from([Buffer.from('old bytes')]));
    const reading = await store.read('replaced');
    await store.write('replaced', Readable.from([Buffer.from('new bytes, longer')]));
    expect(await readAll(reading)).toBe('old bytes');
    expect(await readAll(await store.read('replaced'))).toBe('new bytes, longer');
  });

  it('moves by renaming the file (same inode, no copy), stamps it as new and prunes the emptied directory', async () => {
    await store.write('uploads/u9/0-x', Readable.from([Buffer.from('part')]));
    const source = path.join(root, 'uploads', 'u9', '0-x');
    const written = await stat(source);
    const dayAgo = new Date(Date.now() - 86_400_000);
    await utimes(source, dayAgo, dayAgo);
    await store.move('uploads/u9/0-x', 'blobs/sha256/ab/abc');
    const moved = await stat(path.join(root, 'blobs', 'sha256', 'ab', 'abc'));
    expect(moved.ino).toBe(written.ino);
    expect(moved.mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    expect((await store.stat('blobs/sha256/ab/abc'))!.modifiedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect((await readdir(root)).sort()).toEqual(['.tmp', 'blobs']);
  });

  it('removes directories emptied by delete, but not the root or non-empty ones', async () => {
    await store.write('uploads/u1/0', Readable.from([Buffer.from('0')]));
    await store.write('uploads/u1/1', Readable.from([Buffer.from('1')]));
    await store.write('uploads/u2/0', Readable.from([Buffer.from('0')]));
    await store.delete('uploads/u1/0');
    await store.delete('uploads/u1/1');
    expect((await readdir(path.join(root, 'uploads'))).sort()).toEqual(['u2']);
    await store.delete('uploads/u2/0');
    expect((await readdir(root)).sort()).toEqual(['.tmp']);
    await store.write('uploads/u1/0', Readable.from([Buffer.from('again')]));
    expect(await readAll(await store.read('uploads/u1/0'))).toBe('again');
  });

  it('refuses a key that collides with a directory of other keys, with a clear error', async () => {
    await store.write('a/b', Readable.from([Buffer.from('b')]));
    const intoDirectory = store.write('a', Readable.from([Buffer.from('a')]));
    await expect(intoDirectory).rejects.toBeInstanceOf(StorageError);
    await expect(store.write('a', Readable.from([Buffer.from('a')]))).rejects.toThrow(/both a key and keys below it/);
    const belowFile = store.write('a/b/c', Readable.from([Buffer.from('c')]));
    await expect(belowFile).rejects.toThrow(/both a key and keys below it/);
    expect(await store.stat('a')).toBeNull();
    expect(await readAll(await store.read('a/b'))).toBe('b');
    expect(await readdir(path.join(root, '.tmp'))).toEqual([]);
  });

  it('is built by createBlobStore, which creates the root', async () => {
    const nested = path.join(root, 'not', 'yet', 'there');
    const created = await createBlobStore({ driver: 'filesystem', root: nested });
    expect(created.kind).toBe('filesystem');
    await created.ping();
    await created.write('k', Readable.from([Buffer.from('v')]));
    expect((await stat(path.join(nested, 'k'))).size).toBe(1);
  });

  it('copies an object or a range into a writable (copyTo), refusing before ready() what it cannot serve', async () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    await store.write('blob', Readable.from([data]));
    const sink = () => {
      const chunks: Buffer[] = [];
      const dest = new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(Buffer.from(chunk)), done()) });
      return { dest, bytes: () => Buffer.concat(chunks) };
    };
    const whole = sink();
    const ready = jest.fn();
    await store.copyTo('blob', whole.dest, undefined, ready);
    expect(ready).toHaveBeenCalledTimes(1);
    expect(whole.bytes().equals(data)).toBe(true);
    const part = sink();
    await store.copyTo('blob', part.dest, { start: 100, end: 99_999 });
    expect(part.bytes().equals(data.subarray(100))).toBe(true);
    const notCalled = jest.fn();
    await expect(store.copyTo('missing', sink().dest, undefined, notCalled)).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.copyTo('blob', sink().dest, { start: 3000, end: 3001 }, notCalled)).rejects.toBeInstanceOf(RangeNotSatisfiableError);
    expect(notCalled).not.toHaveBeenCalled();
  });
});
