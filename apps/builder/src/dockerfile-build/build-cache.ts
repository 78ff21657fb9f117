import type { BuildCacheEntry, PruneBuildCacheRequest } from '@muelle/contracts';
import { inScope, selectPrunable, toEntries } from './cache-rules';
import type { BuilderStore } from './store';

/**
 * Listing and pruning the step cache of this builder (`docker system df` BuildCache, `docker
 * builder prune`). Docker's `Shared` (the layer is also in the daemon's image store) is always
 * false here: images live in the registry, which keeps its own copy, so `all` removes nothing more.
 * Unpacked snapshots and RUN diffs are a working copy by layer chain, not entries: prune leaves them.
 */
export class BuildCache {
  constructor(private readonly store: BuilderStore) {}

  async list(scope: string | undefined): Promise<BuildCacheEntry[]> {
    const records = inScope(await this.store.listCache(), scope);
    return toEntries(records, (key) => this.store.leases.holdsKey(key));
  }

  async prune(request: Required<Omit<PruneBuildCacheRequest, 'scope' | 'unusedForMs'>> & Pick<PruneBuildCacheRequest, 'scope' | 'unusedForMs'>, now = Date.now()): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const { leases } = this.store;
    const all = await this.store.listCache();
    const chosen = selectPrunable(all, { scope: request.scope, keepStorage: request.keepStorage, unusedForMs: request.unusedForMs, now, inUse: (key) => leases.holdsKey(key) });
    const deleted: string[] = [];
    for (const { key } of chosen) {
      // A build may have taken it since the selection; it stays then.
      if (leases.holdsKey(key)) continue;
      await this.store.deleteCache(key);
      deleted.push(key);
    }
    const gone = new Set(deleted);
    const digests = new Set(chosen.filter(({ key }) => gone.has(key)).flatMap(({ record }) => (record.layer ? [record.layer.digest] : [])));
    const spaceReclaimed = await this.store.guarded(async () => {
      // A blob stays while any remaining record, or a running build, still uses it.
      const kept = new Set((await this.store.listCache()).flatMap(({ record }) => (record.layer ? [record.layer.digest] : [])));
      let freed = 0;
      for (const digest of digests) {
        const heldThroughKey = all.some(({ key, record }) => record.layer?.digest === digest && leases.holdsKey(key));
        if (kept.has(digest) || leases.holdsDigest(digest) || heldThroughKey) continue;
        freed += await this.store.deleteBlob(digest);
      }
      return freed;
    });
    return { deleted, spaceReclaimed };
  }
}
