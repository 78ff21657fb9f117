/// <reference types="jest" />
// The behaviour every BlobStore driver must show. Import only from test files: it uses
// Jest's globals (describe/it/expect). Each test gets a fresh, empty store from makeStore.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobStore } from '../blob-store';
import { BlobNotFoundError, InvalidKeyError, RangeNotSatisfiableError } from '../errors';

export interface BlobStoreFixture {
  store: BlobStore;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

function sourceOf(...chunks: Buffer[]): Readable {
  return Readable.from(chunks);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: hash.digest('hex'), size };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Listing order is driver-defined; compare sorted. */
async function listed(store: BlobStore, prefix: string) {
  const entries = await collect(store.list(prefix));
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * Deterministic content of `totalBytes`, made of distinct 1 MiB chunks that are generated
 * on demand, so neither the writer nor the checks hold the whole blob in memory.
 */
function generatedContent(totalBytes: number, seed: string) {
  const block = createHash('sha512').update(seed).digest();
  const template = Buffer.alloc(MiB);
  for (let offset = 0; offset < MiB; offset += block.length) block.copy(template, offset);
  const chunkAt = (index: number) => {
    const chunk = Buffer.from(template.subarray(0, Math.min(MiB, totalBytes - index * MiB)));
    chunk.writeUInt32BE(index, 0);
    return chunk;
  };
  const chunkCount = Math.ceil(totalBytes / MiB);
  function* chunks() {
    for (let index = 0; index < chunkCount; index++) yield chunkAt(index);
  }
  const hash = createHash('sha256');
  for (const chunk of chunks()) hash.update(chunk);
  return {
    digest: hash.digest('hex'),
    stream: () => Readable.from(chunks()),
    /** Bytes [start, endExclusive) of the content. */
    slice(start: number, endExclusive: number): Buffer {
      const first = Math.floor(start / MiB);
      const last = Math.floor((endExclusive - 1) / MiB);
      const joined = Buffer.concat(Array.from({ length: last - first + 1 }, (_, i) => chunkAt(first + i)));
      return joined.subarray(start - first * MiB, endExclusive - first * MiB);
    },
  };
}

/** A source that sends `bytesBeforeFailure` bytes and then fails like a dropped client connection. */
function failingSource(bytesBeforeFailure: number, message: string): Readable {
  async function* generate() {
    for (let sent = 0; sent < bytesBeforeFailure; sent += MiB) {
      yield randomBytes(Math.min(MiB, bytesBeforeFailure - sent));
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(message);
  }
  return Readable.from(generate());
}

export interface BackendTraits {
  /**
   * Whether the backend itself replaces an object atomically when two writers race on one key.
   * Real S3 and MinIO do; s3rver (our CI stand-in) writes the file in place, so two racing
   * writers can interleave there whatever the driver does.
   */
  atomicConcurrentOverwrite: boolean;
}

export function describeBlobStore(name: string, makeStore: () => Promise<BlobStoreFixture>, traits: BackendTraits = { atomicConcurrentOverwrite: true }): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture?.cleanup();
    });

    it('answers ping when healthy', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('stores and returns bytes exactly, with size and modification time', async () => {
      const data = randomBytes(100_000);
      const before = Date.now();
      await expect(store.write('blobs/sha256/ab/round-trip', sourceOf(data.subarray(0, 60_000), data.subarray(60_000)))).resolves.toEqual({
        size: data.length,
      });
      expect((await readAll(await store.read('blobs/sha256/ab/round-trip'))).equals(data)).toBe(true);
      const info = await store.stat('blobs/sha256/ab/round-trip');
      expect(info?.size).toBe(data.length);
      expect(info?.modifiedAt).toBeInstanceOf(Date);
      // Second-granularity clocks (HTTP Last-Modified) may round down.
      expect(info!.modifiedAt.getTime()).toBeGreaterThanOrEqual(before - 2000);
      expect(info!.modifiedAt.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
    });

    it('replaces an existing object on write', async () => {
      await store.write('k', sourceOf(Buffer.from('first version, longer')));
      await store.write('k', sourceOf(Buffer.from('second')));
      expect((await readAll(await store.read('k'))).toString()).toBe('second');
      expect((await store.stat('k'))?.size).toBe(6);
    });

    it('stores a 0-byte blob', async () => {
      await expect(store.write('empty', sourceOf())).resolves.toEqual({ size: 0 });
      expect((await store.stat('empty'))?.size).toBe(0);
      expect((await readAll(await store.read('empty'))).length).toBe(0);
      await expect(store.read('empty', { start: 0, end: 0 })).rejects.toBeInstanceOf(RangeNotSatisfiableError);
    });

    it('streams a 64 MiB blob in and out', async () => {
      const size = 64 * MiB;
      const content = generatedContent(size, 'large blob');
      await expect(store.write('blobs/large', content.stream())).resolves.toEqual({ size });
      expect((await store.stat('blobs/large'))?.size).toBe(size);
      await expect(sha256Of(await store.read('blobs/large'))).resolves.toEqual({ digest: content.digest, size });
      // A range crossing 16 MiB (a part boundary for the S3 driver).
      const slice = await readAll(await store.read('blobs/large', { start: 16 * MiB - 10, end: 16 * MiB + 9 }));
      expect(slice.equals(content.slice(16 * MiB - 10, 16 * MiB + 10))).toBe(true);
    }, 180_000);

    describe('ranges', () => {
      const data = randomBytes(2048);
      beforeEach(async () => {
        await store.write('ranged', sourceOf(data));
      });

      it.each([
        [500, 1499, 500, 1500],
        [0, 0, 0, 1],
        [2047, 2047, 2047, 2048],
        [0, 2047, 0, 2048],
        [2000, 5000, 2000, 2048], // end past the object is clamped, as HTTP does
      ])('reads bytes %i-%i', async (start, end, sliceStart, sliceEnd) => {
        const part = await readAll(await store.read('ranged', { start, end }));
        expect(part.equals(data.subarray(sliceStart, sliceEnd))).toBe(true);
      });

      it.each([
        [2048, 2048],
        [5000, 10000],
        [500, 0],
        [-1, 10],
      ])('rejects the unsatisfiable range %i-%i', async (start, end) => {
        await expect(store.read('ranged', { start, end })).rejects.toBeInstanceOf(RangeNotSatisfiableError);
      });

      it('reports a missing key before looking at the range', async () => {
        await expect(store.read('missing', { start: 0, end: 10 })).rejects.toBeInstanceOf(BlobNotFoundError);
      });
    });

    describe('atomic writes', () => {
      it('keeps nothing when the source fails midway (new key)', async () => {
        await expect(store.write('uploads/failed/new', failingSource(20 * MiB, 'client went away'))).rejects.toThrow(
          'client went away',
        );
        expect(await store.stat('uploads/failed/new')).toBeNull();
        await expect(store.read('uploads/failed/new')).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await collect(store.list(''))).toEqual([]);
      }, 60_000);

      it('keeps the previous object when the source fails midway', async () => {
        const previous = randomBytes(4096);
        await store.write('uploads/failed/existing', sourceOf(previous));
        await expect(store.write('uploads/failed/existing', failingSource(20 * MiB, 'client went away'))).rejects.toThrow(
          'client went away',
        );
        expect((await readAll(await store.read('uploads/failed/existing'))).equals(previous)).toBe(true);
        expect((await store.stat('uploads/failed/existing'))?.size).toBe(previous.length);
      }, 60_000);

      it('keeps nothing when the source is destroyed without an error', async () => {
        const source = new Readable({ read() {} });
        source.push(randomBytes(1000));
        setTimeout(() => source.destroy(), 20);
        await expect(store.write('aborted', source)).rejects.toThrow();
        expect(await store.stat('aborted')).toBeNull();
      });

      it('shows neither a partial object nor a listing entry while a write is in progress', async () => {
        await store.write('in-progress', sourceOf(Buffer.from('old value')));
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let firstChunkSent!: () => void;
        const started = new Promise<void>((resolve) => (firstChunkSent = resolve));
        async function* slow() {
          yield Buffer.alloc(MiB, 1);
          firstChunkSent();
          await gate;
          yield Buffer.alloc(MiB, 2);
        }
        const writing = store.write('in-progress', Readable.from(slow()));
        await started;
        expect((await readAll(await store.read('in-progress'))).toString()).toBe('old value');
        expect((await store.stat('in-progress'))?.size).toBe(9);
        expect((await collect(store.list(''))).map((entry) => entry.key)).toEqual(['in-progress']);
        release();
        await expect(writing).resolves.toEqual({ size: 2 * MiB });
        expect((await store.stat('in-progress'))?.size).toBe(2 * MiB);
      });

      it('lets two concurrent writers of one key both succeed and keeps one complete value', async () => {
        const first = randomBytes(3 * MiB);
        const second = randomBytes(3 * MiB + 17);
        async function* trickle(data: Buffer) {
          for (let offset = 0; offset < data.length; offset += 256 * 1024) {
            yield data.subarray(offset, offset + 256 * 1024);
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        const results = await Promise.all([
          store.write('contended', Readable.from(trickle(first))),
          store.write('contended', Readable.from(trickle(second))),
        ]);
        expect(results).toEqual([{ size: first.length }, { size: second.length }]);
        const stored = await readAll(await store.read('contended'));
        if (traits.atomicConcurrentOverwrite) expect([sha256(first), sha256(second)]).toContain(sha256(stored));
        expect((await store.stat('contended'))?.size).toBe(stored.length);
      }, 60_000);
    });

    describe('fresh writes (upload parts)', () => {
      it('stores the bytes of a fresh key, readable and listed like any other', async () => {
        const data = randomBytes(3 * MiB + 5);
        await expect(store.write('uploads/fresh/000-a', sourceOf(data), { fresh: true })).resolves.toEqual({ size: data.length });
        expect((await readAll(await store.read('uploads/fresh/000-a'))).equals(data)).toBe(true);
        expect((await collect(store.list('uploads/fresh/'))).map((entry) => entry.key)).toEqual(['uploads/fresh/000-a']);
        // It moves into use like any object.
        await store.move('uploads/fresh/000-a', 'blobs/fresh');
        expect(sha256(await readAll(await store.read('blobs/fresh')))).toBe(sha256(data));
      });

      it('keeps nothing when the source of a fresh write fails', async () => {
        await expect(store.write('uploads/fresh/000-b', failingSource(5 * MiB, 'client went away'), { fresh: true })).rejects.toThrow('client went away');
        expect(await store.stat('uploads/fresh/000-b')).toBeNull();
        expect(await collect(store.list('uploads/'))).toEqual([]);
      }, 60_000);
    });

    describe('concat', () => {
      it('joins sources in the given order and reports the size', async () => {
        const parts = [randomBytes(1000), Buffer.alloc(0), randomBytes(7 * MiB), randomBytes(12 * MiB + 3)];
        for (const [index, part] of parts.entries()) await store.write(`uploads/u1/${index}`, sourceOf(part));
        const order = [3, 0, 1, 2];
        const expected = Buffer.concat(order.map((index) => parts[index]));
        await expect(store.concat(order.map((index) => `uploads/u1/${index}`), 'blobs/joined')).resolves.toEqual({
          size: expected.length,
        });
        expect(sha256(await readAll(await store.read('blobs/joined')))).toBe(sha256(expected));
        // Sources stay where they were.
        expect((await store.stat('uploads/u1/2'))?.size).toBe(parts[2].length);
      }, 60_000);

      it('writes a 0-byte object from no sources', async () => {
        await expect(store.concat([], 'blobs/nothing')).resolves.toEqual({ size: 0 });
        expect((await store.stat('blobs/nothing'))?.size).toBe(0);
      });

      it('fails on a missing source and leaves the target untouched', async () => {
        await store.write('uploads/u2/0', sourceOf(Buffer.from('zero')));
        await store.write('blobs/target', sourceOf(Buffer.from('previous')));
        await expect(store.concat(['uploads/u2/0', 'uploads/u2/1'], 'blobs/target')).rejects.toBeInstanceOf(BlobNotFoundError);
        expect((await readAll(await store.read('blobs/target'))).toString()).toBe('previous');
        await expect(store.concat(['uploads/u2/1'], 'blobs/fresh')).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await store.stat('blobs/fresh')).toBeNull();
      });
    });

    describe('copy', () => {
      it('copies bytes to an independent object', async () => {
        const data = randomBytes(5000);
        await store.write('blobs/original', sourceOf(data));
        await store.copy('blobs/original', 'mirror/copy');
        expect((await readAll(await store.read('mirror/copy'))).equals(data)).toBe(true);
        await store.write('blobs/original', sourceOf(Buffer.from('changed')));
        expect((await readAll(await store.read('mirror/copy'))).equals(data)).toBe(true);
      });

      it('overwrites the target and accepts copying a key onto itself', async () => {
        await store.write('a', sourceOf(Buffer.from('aaa')));
        await store.write('b', sourceOf(Buffer.from('bbbbbb')));
        await store.copy('a', 'b');
        expect((await readAll(await store.read('b'))).toString()).toBe('aaa');
        await store.copy('a', 'a');
        expect((await readAll(await store.read('a'))).toString()).toBe('aaa');
      });

      it('fails with BlobNotFoundError for a missing source', async () => {
        await expect(store.copy('missing', 'target')).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await store.stat('target')).toBeNull();
      });
    });

    describe('move', () => {
      it('renames an object: the target has the bytes, the source is gone', async () => {
        const data = randomBytes(300_000);
        await store.write('uploads/m1/0-a', sourceOf(data));
        await store.move('uploads/m1/0-a', `blobs/sha256/cd/${'cd'.repeat(32)}`);
        expect((await readAll(await store.read(`blobs/sha256/cd/${'cd'.repeat(32)}`))).equals(data)).toBe(true);
        expect((await store.stat(`blobs/sha256/cd/${'cd'.repeat(32)}`))?.size).toBe(data.length);
        expect(await store.stat('uploads/m1/0-a')).toBeNull();
        await expect(store.read('uploads/m1/0-a')).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await collect(store.list('uploads/'))).toEqual([]);
      });

      it('replaces an existing target and keeps a key moved onto itself', async () => {
        await store.write('from', sourceOf(Buffer.from('new bytes')));
        await store.write('to', sourceOf(Buffer.from('old, longer bytes')));
        await store.move('from', 'to');
        expect((await readAll(await store.read('to'))).toString()).toBe('new bytes');
        expect(await store.stat('from')).toBeNull();
        await store.move('to', 'to');
        expect((await readAll(await store.read('to'))).toString()).toBe('new bytes');
      });

      it('fails with BlobNotFoundError for a missing source and leaves the target alone', async () => {
        await store.write('kept', sourceOf(Buffer.from('kept')));
        await expect(store.move('missing', 'kept')).rejects.toBeInstanceOf(BlobNotFoundError);
        await expect(store.move('missing', 'missing')).rejects.toBeInstanceOf(BlobNotFoundError);
        expect((await readAll(await store.read('kept'))).toString()).toBe('kept');
        await store.move('kept', 'elsewhere');
        await expect(store.move('kept', 'elsewhere')).rejects.toBeInstanceOf(BlobNotFoundError);
        expect((await readAll(await store.read('elsewhere'))).toString()).toBe('kept');
      });

      it('lets only one of two racing moves of the same source succeed', async () => {
        await store.write('race/src', sourceOf(Buffer.from('once')));
        const results = await Promise.allSettled([store.move('race/src', 'race/one'), store.move('race/src', 'race/two')]);
        const fulfilled = results.filter((r) => r.status === 'fulfilled').length;
        const targets = [await store.stat('race/one'), await store.stat('race/two')].filter(Boolean).length;
        expect(await store.stat('race/src')).toBeNull();
        // Filesystem: exactly one rename wins. S3 (copy then delete) may let both copies land.
        expect(fulfilled).toBeGreaterThanOrEqual(1);
        expect(targets).toBe(fulfilled);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(BlobNotFoundError);
      });
    });

    describe('delete', () => {
      it('removes an object and is idempotent', async () => {
        await store.write('uploads/u3/0', sourceOf(Buffer.from('x')));
        await expect(store.delete('uploads/u3/0')).resolves.toBe(true);
        expect(await store.stat('uploads/u3/0')).toBeNull();
        await expect(store.read('uploads/u3/0')).rejects.toBeInstanceOf(BlobNotFoundError);
        await expect(store.delete('uploads/u3/0')).resolves.toBe(false);
        await expect(store.delete('never/existed')).resolves.toBe(false);
      });

      it('leaves sibling objects alone', async () => {
        await store.write('dir/one', sourceOf(Buffer.from('1')));
        await store.write('dir/two', sourceOf(Buffer.from('22')));
        await store.delete('dir/one');
        expect((await store.stat('dir/two'))?.size).toBe(2);
        expect((await collect(store.list('dir/'))).map((entry) => entry.key)).toEqual(['dir/two']);
      });
    });

    describe('list', () => {
      const contents: Record<string, string> = {
        'list/a/1': 'one',
        'list/a/2': 'two!',
        'list/a-b': 'dash',
        'list/a.c': 'dot',
        'list/ab/3': 'three',
        'list/b': 'bee',
        'listing/x': 'x',
        'other/y': 'y',
      };
      beforeEach(async () => {
        for (const [key, value] of Object.entries(contents)) await store.write(key, sourceOf(Buffer.from(value)));
      });

      it('lists every key under a directory prefix with sizes', async () => {
        const entries = await listed(store, 'list/');
        expect(entries.map((entry) => entry.key)).toEqual(['list/a-b', 'list/a.c', 'list/a/1', 'list/a/2', 'list/ab/3', 'list/b']);
        for (const entry of entries) {
          expect(entry.size).toBe(contents[entry.key].length);
          expect(entry.modifiedAt).toBeInstanceOf(Date);
        }
      });

      it('treats the prefix as a plain string prefix', async () => {
        expect((await listed(store, 'list/a')).map((entry) => entry.key)).toEqual([
          'list/a-b',
          'list/a.c',
          'list/a/1',
          'list/a/2',
          'list/ab/3',
        ]);
        expect((await listed(store, 'list/a/')).map((entry) => entry.key)).toEqual(['list/a/1', 'list/a/2']);
        expect((await collect(store.list('list'))).map((entry) => entry.key)).toContain('listing/x');
      });

      it('lists everything for an empty prefix and nothing for an unknown one', async () => {
        expect((await listed(store, '')).map((entry) => entry.key)).toEqual(Object.keys(contents).sort());
        expect(await collect(store.list('nothing/here/'))).toEqual([]);
      });
    });

    describe('keys', () => {
      const invalidKeys = ['../x', 'a/../b', 'a//b', '/abs', 'a/./b', '.', '..', '', 'a/', '.hidden', 'a b', 'a\\b', 'ä', 'x'.repeat(1000)];

      it.each(invalidKeys.map((key) => [key]))('rejects %j in every operation', async (key) => {
        await expect(store.write(key, sourceOf(Buffer.from('x')))).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.read(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.stat(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.copy(key, 'ok')).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.copy('ok', key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.move(key, 'ok')).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.move('ok', key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.concat([key], 'ok')).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.concat([], key)).rejects.toBeInstanceOf(InvalidKeyError);
      });

      it('rejects invalid listing prefixes', async () => {
        for (const prefix of ['../', '/abs', 'a//', 'a/../']) {
          await expect(collect(store.list(prefix))).rejects.toBeInstanceOf(InvalidKeyError);
        }
      });

      it('accepts the key shapes the platform uses', async () => {
        const keys = [
          `blobs/sha256/ab/${'ab'.repeat(32)}`,
          'uploads/3f2b6c1e-93f4-4f0e-9a57-1c3f0e0b9d1a/3',
          'cache/builder/layer_1.tar.gz',
        ];
        for (const key of keys) await store.write(key, sourceOf(Buffer.from(key)));
        for (const key of keys) expect((await readAll(await store.read(key))).toString()).toBe(key);
      });
    });

    it('offers presigned read URLs only where the backend serves them, with ranges and a bounded expiry', async () => {
      if (!store.presignedReadUrl) {
        // The filesystem driver has no URL to hand out: the registry then streams the file itself.
        expect(store.kind).toBe('filesystem');
        return;
      }
      const data = randomBytes(50_000);
      await store.write('blobs/sha256/cd/presigned', sourceOf(data));
      const url = await store.presignedReadUrl('blobs/sha256/cd/presigned', 30);
      expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('30');
      expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(data)).toBe(true);
      const ranged = await fetch(url, { headers: { range: 'bytes=100-199' } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
      expect((await fetch(await store.presignedReadUrl('blobs/sha256/cd/absent', 30))).status).toBe(404);
      await expect(store.presignedReadUrl('blobs/sha256/cd/presigned', 0)).rejects.toThrow(/expiry/);
      await expect(store.presignedReadUrl('../escape', 30)).rejects.toBeInstanceOf(InvalidKeyError);
    });

    describe('missing keys', () => {
      it('reports absence through stat, read and copy', async () => {
        expect(await store.stat('no/such/blob')).toBeNull();
        await expect(store.read('no/such/blob')).rejects.toBeInstanceOf(BlobNotFoundError);
        await expect(store.read('no/such/blob')).rejects.toMatchObject({ key: 'no/such/blob' });
      });
    });
  });
}
