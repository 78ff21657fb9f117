import { freshRecord, selectPrunable, toEntries, touchedRecord, type KeyedRecord } from './cache-rules';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

function entry(key: string, scope: string | undefined, size: number, lastUsedHoursAgo: number, parent?: string): KeyedRecord {
  const at = new Date(T0 - lastUsedHoursAgo * HOUR).toISOString();
  return {
    key,
    record: { created: at, scope, parent, description: `RUN ${key}`, createdAt: at, lastUsedAt: at, usageCount: 1, ...(size ? { layer: { digest: `sha256:${key}`, diffId: 'x', size, mediaType: 'm' } } : {}) },
  };
}

const none = () => false;
const records = [entry('a', 'team:1', 100, 5), entry('b', 'team:1', 50, 1, 'a'), entry('c', 'team:2', 70, 10), entry('old', undefined, 10, 20)];

describe('build cache rules', () => {
  it('prunes a scope only, everything not in use', () => {
    expect(selectPrunable(records, { scope: 'team:1', keepStorage: 0, now: T0, inUse: none }).map((r) => r.key).sort()).toEqual(['a', 'b']);
    expect(selectPrunable(records, { keepStorage: 0, now: T0, inUse: none }).map((r) => r.key).sort()).toEqual(['a', 'b', 'c', 'old']);
  });

  it('skips entries a running build holds', () => {
    expect(selectPrunable(records, { scope: 'team:1', keepStorage: 0, now: T0, inUse: (key) => key === 'b' }).map((r) => r.key)).toEqual(['a']);
  });

  it('with an unused-for limit, only entries unused that long', () => {
    expect(selectPrunable(records, { keepStorage: 0, unusedForMs: 6 * HOUR, now: T0, inUse: none }).map((r) => r.key)).toEqual(['old', 'c']);
  });

  it('with keep-storage, least recently used first until the scope fits', () => {
    expect(selectPrunable(records, { scope: 'team:1', keepStorage: 60, now: T0, inUse: none }).map((r) => r.key)).toEqual(['a']);
    expect(selectPrunable(records, { scope: 'team:1', keepStorage: 200, now: T0, inUse: none })).toEqual([]);
    expect(selectPrunable(records, { scope: 'team:1', keepStorage: 10, now: T0, inUse: none }).map((r) => r.key)).toEqual(['a', 'b']);
  });

  it('lists parents only when listed, sizes from the layer, scope-less records as null', () => {
    const entries = toEntries([records[1], records[3]], (key) => key === 'b');
    expect(entries[0]).toMatchObject({ id: 'b', parent: null, scope: 'team:1', size: 50, inUse: true, description: 'RUN b', usageCount: 1 });
    expect(toEntries(records.slice(0, 2), none)[1].parent).toBe('a');
    expect(entries[1]).toMatchObject({ scope: null, inUse: false });
  });

  it('counts uses: a fresh record is used once, each hit adds one and moves its last use', () => {
    const fresh = freshRecord({ created: '1970-01-01T00:00:00Z', scope: 'system', description: 'x'.repeat(2000) }, new Date(T0));
    expect(fresh).toMatchObject({ usageCount: 1, createdAt: new Date(T0).toISOString(), lastUsedAt: new Date(T0).toISOString() });
    expect(fresh.description).toHaveLength(1024);
    const hit = touchedRecord(fresh, new Date(T0 + HOUR));
    expect(hit).toMatchObject({ usageCount: 2, createdAt: new Date(T0).toISOString(), lastUsedAt: new Date(T0 + HOUR).toISOString() });
    expect(touchedRecord({ created: 'c' }, new Date(T0)).usageCount).toBe(1);
  });
});
