import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { BuildCache } from './build-cache';
import { freshRecord } from './cache-rules';
import { BuilderStore } from './store';

describe('BuildCache on a store', () => {
  let dir: string;
  let store: BuilderStore;
  let cache: BuildCache;
  const key = (c: string) => c.repeat(64);
  const digest = (c: string) => `sha256:${c.repeat(64)}`;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'build-cache-'));
    store = await BuilderStore.open(dir);
    cache = new BuildCache(store);
    for (const [k, d, scope] of [['a', '1', 'team:x'], ['b', '2', 'team:x'], ['c', '1', 'team:y']] as const) {
      await store.putBytes(digest(d), Buffer.alloc(d === '1' ? 300 : 200));
      await store.putCache(key(k), freshRecord({ created: 'c', scope, description: `RUN ${k}`, layer: { digest: digest(d), diffId: digest(d), size: 99, mediaType: 'm' } }, new Date()));
    }
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('lists a scope with in-use marks', async () => {
    const lease = store.leases.open();
    lease.holdKey(key('b'));
    const entries = await cache.list('team:x');
    expect(entries.map((e) => [e.id[0], e.inUse, e.size]).sort()).toEqual([['a', false, 99], ['b', true, 99]]);
    lease.release();
    expect((await cache.list('team:x')).every((e) => !e.inUse)).toBe(true);
    expect(await cache.list(undefined)).toHaveLength(3);
  });

  it('prunes records, frees a blob only once nothing uses it, and skips what a build holds', async () => {
    const lease = store.leases.open();
    lease.holdKey(key('b'));
    const first = await cache.prune({ scope: 'team:x', all: false, keepStorage: 0 });
    expect(first.deleted).toEqual([key('a')]);
    // Blob 1 is still c's (another team): nothing freed.
    expect(first.spaceReclaimed).toBe(0);
    expect(await store.hasBlob(digest('1'))).toBe(true);
    lease.release();
    const second = await cache.prune({ scope: 'team:x', all: true, keepStorage: 0 });
    expect(second).toEqual({ deleted: [key('b')], spaceReclaimed: 200 });
    expect(await store.hasBlob(digest('2'))).toBe(false);
    expect((await cache.prune({ all: true, keepStorage: 0 })).spaceReclaimed).toBe(300);
    expect(await store.listCache()).toEqual([]);
  });

  it('keeps a blob a running build holds by digest', async () => {
    const lease = store.leases.open();
    lease.holdDigest(digest('2'));
    const pruned = await cache.prune({ scope: 'team:x', all: true, keepStorage: 0 });
    expect({ ...pruned, deleted: pruned.deleted.sort() }).toEqual({ deleted: [key('a'), key('b')], spaceReclaimed: 0 });
    expect(await store.hasBlob(digest('2'))).toBe(true);
    lease.release();
  });
});
