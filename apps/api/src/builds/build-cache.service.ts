import { Injectable } from '@nestjs/common';
import { listingTeamId } from '@muelle/authz';
import { BusClient } from '@muelle/bus';
import { BuildCacheEntry, InvalidArgumentError, listBuildCache, pruneBuildCache } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { authorize, RequestPrincipal, subjectOf } from '../auth/principal';

export interface BuildCachePruneOptions {
  all: boolean;
  keepStorage: number;
  unusedForMs?: number;
}

/** Docker's build cache filters Muelle does not apply (dockerd 20.10 `cacheFields`): refused by name. */
const UNSUPPORTED_FILTERS = ['id', 'parent', 'type', 'description', 'inuse', 'shared', 'private'];
const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`24h`, `1h30m`, `90s`) in milliseconds, as dockerd's `until` filter takes it. */
export function parseGoDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return text === '0' ? 0 : undefined;
  let ms = 0;
  for (const [, value, , unit] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(value) * DURATION_UNITS[unit];
  return Math.floor(ms);
}

/**
 * `docker builder prune` / `/v1/builds/cache/prune` options from Docker's filters, with dockerd's
 * words for what it refuses: an unknown filter, two `until` values, a value that is no duration.
 */
export function pruneOptionsOf(all: boolean, keepStorage: number, filters: Record<string, string[]>): BuildCachePruneOptions {
  for (const name of Object.keys(filters)) {
    if (UNSUPPORTED_FILTERS.includes(name)) throw new InvalidArgumentError(`the build cache filter '${name}' is not supported by Muelle (only until)`);
    if (name !== 'until' && name !== 'unused-for') throw new InvalidArgumentError(`Invalid filter '${name}'`);
  }
  if (!Number.isSafeInteger(keepStorage) || keepStorage < 0) throw new InvalidArgumentError('keep-storage must be a number of bytes');
  const values = [...(filters.until ?? []), ...(filters['unused-for'] ?? [])];
  if (values.length > 1) throw new InvalidArgumentError('filters expect only one value');
  if (!values.length) return { all, keepStorage };
  const unusedForMs = parseGoDuration(values[0]);
  if (unusedForMs === undefined) throw new InvalidArgumentError(`"${filters.until ? 'until' : 'unused-for'}" filter expects a duration (e.g., '24h'): ${values[0]}`);
  return { all, keepStorage, unusedForMs };
}

/**
 * The build cache as callers see it (SECURITY.md "Build cache"): a member lists and prunes its
 * team's entries, an admin every scope's. The builder keeps one scope per team (`team:<id>`,
 * `system` for teamless builds); `decide()` says whether the caller may act on its team's.
 */
@Injectable()
export class BuildCacheService {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
  ) {}

  async list(principal: RequestPrincipal): Promise<BuildCacheEntry[]> {
    const team = listingTeamId(subjectOf(principal));
    // A user without a team has no build cache (their builds are refused).
    if (team === null) return [];
    if (team !== undefined) authorize(principal, 'read', { kind: 'build', teamId: team }, { what: 'the build cache', notFound: 'no build cache' });
    const { entries } = await this.bus.request(listBuildCache, team === undefined ? {} : { scope: `team:${team}` });
    return entries;
  }

  async prune(principal: RequestPrincipal, options: BuildCachePruneOptions): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const team = listingTeamId(subjectOf(principal));
    if (team !== undefined) authorize(principal, 'delete', { kind: 'build', teamId: team }, { what: 'pruning the build cache', notFound: 'no build cache' });
    const scope = team === undefined ? {} : { scope: `team:${team}` };
    const { deleted, spaceReclaimed } = await this.bus.request(pruneBuildCache, { ...options, ...scope });
    await this.audit.record(principal, 'build-cache.prune', scope.scope ?? 'build-cache', { deleted: deleted.length, spaceReclaimed });
    return { deleted, spaceReclaimed };
  }
}
