import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate } from '../common';

/**
 * The builder's step cache (SECURITY.md "Build cache"), listed and pruned per scope: `team:<id>`
 * or `system` (builds without a team). `scope` undefined means every scope (admins); the api
 * decides which scope a caller gets (libs/authz `decide()`).
 *
 * One builder answers each request (the builders' queue group): with several builders, each
 * keeps its own cache and a request sees the cache of whichever builder took it (`builderId`).
 */
export const BuildCacheScope = z.string().regex(/^(system|team:[0-9a-f-]{36})$/, 'not a build cache scope (system or team:<uuid>)');

export const BuildCacheEntry = z.object({
  /** The step's cache key. */
  id: z.string().regex(/^[a-f0-9]{64}$/),
  /** The key of the step it chains from, when that step is a cache entry too. */
  parent: z.string().nullable(),
  /** Null for entries recorded before scopes were kept (admins only see those). */
  scope: BuildCacheScope.nullable(),
  /** The instruction as written in the Dockerfile. */
  description: z.string(),
  /** A running build uses it: prune skips it. */
  inUse: z.boolean(),
  /** Bytes of the compressed layer the step made (0 for steps without a layer). */
  size: z.number().int().nonnegative(),
  createdAt: IsoDate,
  lastUsedAt: IsoDate.nullable(),
  usageCount: z.number().int().nonnegative(),
});
export type BuildCacheEntry = z.infer<typeof BuildCacheEntry>;

export const listBuildCache = defineRequest(
  'muelle.builder.cache.list.v1',
  z.object({ scope: BuildCacheScope.optional() }),
  z.object({ builderId: z.string().optional(), entries: z.array(BuildCacheEntry) }),
);

export const PruneBuildCacheRequest = z.object({
  scope: BuildCacheScope.optional(),
  /** Docker's `all`: also entries Docker would keep as shared (Muelle has none: see the builder's build-cache.ts). */
  all: z.boolean().default(false),
  /** Keep this many bytes of cache (least recently used goes first); 0: no limit. */
  keepStorage: z.number().int().nonnegative().default(0),
  /** Only entries not used for this long (Docker's `until` / `unused-for` filter). */
  unusedForMs: z.number().int().nonnegative().optional(),
});
export type PruneBuildCacheRequest = z.input<typeof PruneBuildCacheRequest>;

/** `spaceReclaimed`: bytes of layer blobs removed (a blob another entry still uses stays). */
export const pruneBuildCache = defineRequest(
  'muelle.builder.cache.prune.v1',
  PruneBuildCacheRequest,
  z.object({ builderId: z.string().optional(), deleted: z.array(z.string()), spaceReclaimed: z.number().int().nonnegative() }),
);
