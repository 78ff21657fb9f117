import type { BuildCacheEntry } from '@muelle/contracts';

/**
 * A step cache entry as dockerd 20.10 (BuildKit) lists it in `GET /system/df` BuildCache. Type is
 * always `regular` (Muelle keeps no internal or frontend records); Shared is false: built images
 * live in the registry, which holds its own copy, so no entry shares its bytes with an image.
 */
export function toDockerBuildCache(entry: BuildCacheEntry) {
  return {
    ID: entry.id,
    Parent: entry.parent ?? '',
    Type: 'regular',
    Description: entry.description,
    InUse: entry.inUse,
    Shared: false,
    Size: entry.size,
    CreatedAt: entry.createdAt,
    LastUsedAt: entry.lastUsedAt,
    UsageCount: entry.usageCount,
  };
}

/** dockerd answers `null` for an empty cache list and for no deleted caches. */
export const nullIfEmpty = <T>(list: T[]): T[] | null => (list.length ? list : null);
