import type { BuildCacheEntry } from '@muelle/contracts';
import type { CacheRecord } from './store';

/** A cache record with its key, as the store lists it. */
export interface KeyedRecord {
  key: string;
  record: CacheRecord;
}

export interface PruneRules {
  /** Undefined: every scope. */
  scope?: string;
  keepStorage: number;
  unusedForMs?: number;
  now: number;
  inUse: (key: string) => boolean;
}

/** Records of `scope` (undefined: all); records without a scope are only shown to "all". */
export function inScope(records: KeyedRecord[], scope: string | undefined): KeyedRecord[] {
  return scope === undefined ? records : records.filter(({ record }) => record.scope === scope);
}

export function sizeOf(record: CacheRecord): number {
  return record.layer?.size ?? 0;
}

/** When a record was last used; records from before the listing fields count from their creation. */
function lastUse(record: CacheRecord): number {
  return Date.parse(record.lastUsedAt ?? record.createdAt ?? record.created) || 0;
}

/**
 * The entries as `listBuildCache` answers: Parent only when the parent step is itself listed
 * (a stage's first step chains from its base image, which is no entry).
 */
export function toEntries(records: KeyedRecord[], inUse: (key: string) => boolean): BuildCacheEntry[] {
  const keys = new Set(records.map(({ key }) => key));
  return records.map(({ key, record }) => ({
    id: key,
    parent: record.parent && keys.has(record.parent) ? record.parent : null,
    scope: record.scope ?? null,
    description: record.description ?? '',
    inUse: inUse(key),
    size: sizeOf(record),
    createdAt: new Date(Date.parse(record.createdAt ?? record.created) || 0).toISOString(),
    lastUsedAt: record.lastUsedAt ?? null,
    usageCount: record.usageCount ?? 0,
  }));
}

/**
 * Which records a prune removes: those of the scope not in use (a running build's are skipped),
 * unused for at least `unusedForMs` when given; with `keepStorage`, only the least recently used
 * until what stays of the scope fits in it (BuildKit's order).
 */
export function selectPrunable(records: KeyedRecord[], rules: PruneRules): KeyedRecord[] {
  const scoped = inScope(records, rules.scope);
  const candidates = scoped
    .filter(({ key, record }) => !rules.inUse(key) && (rules.unusedForMs === undefined || rules.now - lastUse(record) >= rules.unusedForMs))
    .sort((a, b) => lastUse(a.record) - lastUse(b.record));
  if (!rules.keepStorage) return candidates;
  let total = scoped.reduce((sum, { record }) => sum + sizeOf(record), 0);
  const chosen: KeyedRecord[] = [];
  for (const candidate of candidates) {
    if (total <= rules.keepStorage) break;
    chosen.push(candidate);
    total -= sizeOf(candidate.record);
  }
  return chosen;
}

/** The record a step writes when it runs (a miss): first use now. */
export function freshRecord(fields: Pick<CacheRecord, 'layer' | 'created' | 'scope' | 'parent' | 'description'>, now: Date): CacheRecord {
  return { ...fields, description: fields.description?.slice(0, 1024), createdAt: now.toISOString(), lastUsedAt: now.toISOString(), usageCount: 1 };
}

/** The same record after a hit. */
export function touchedRecord(record: CacheRecord, now: Date): CacheRecord {
  return { ...record, lastUsedAt: now.toISOString(), usageCount: (record.usageCount ?? 0) + 1 };
}
