import { listBuildCache, pruneBuildCache } from '@muelle/contracts';
import type { BusClient } from '@muelle/bus';
import type { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import { toDockerBuildCache } from '../docker/build-cache.mapping';
import { BuildCacheService, parseGoDuration, pruneOptionsOf } from './build-cache.service';

const TEAM = '11111111-1111-4111-8111-111111111111';
const principal = (role: 'admin' | 'member' | 'viewer', teamId: string | null) =>
  ({ user: { id: 'u', username: role, role }, role, teamId, teamName: teamId ? 'team' : null, registryCredentials: { username: role, password: 'p' } }) as unknown as RequestPrincipal;

function service() {
  const request = jest.fn(async (contract: { subject: string }, _body?: unknown) => (contract.subject === listBuildCache.subject ? { entries: [] } : { deleted: ['a'], spaceReclaimed: 5 }));
  const audit = { record: jest.fn(async () => undefined) };
  return { sut: new BuildCacheService({ request } as unknown as BusClient, audit as unknown as AuditLog), request, audit };
}

describe('build cache rules at the api', () => {
  it('a member lists and prunes its team scope only; an admin every scope', async () => {
    const { sut, request } = service();
    await sut.list(principal('member', TEAM));
    await sut.prune(principal('member', TEAM), { all: false, keepStorage: 0 });
    await sut.list(principal('admin', null));
    await sut.prune(principal('admin', TEAM), { all: true, keepStorage: 0 });
    expect(request.mock.calls.map(([contract, body]) => [contract.subject, body])).toEqual([
      [listBuildCache.subject, { scope: `team:${TEAM}` }],
      [pruneBuildCache.subject, { all: false, keepStorage: 0, scope: `team:${TEAM}` }],
      [listBuildCache.subject, {}],
      [pruneBuildCache.subject, { all: true, keepStorage: 0 }],
    ]);
  });

  it('a viewer lists but may not prune; a user without a team lists nothing and may not prune', async () => {
    const { sut, request } = service();
    expect(await sut.list(principal('viewer', TEAM))).toEqual([]);
    await expect(sut.prune(principal('viewer', TEAM), { all: false, keepStorage: 0 })).rejects.toThrow(/viewer/);
    expect(await sut.list(principal('member', null))).toEqual([]);
    await expect(sut.prune(principal('member', null), { all: false, keepStorage: 0 })).rejects.toThrow(/no build cache/);
    expect(request).toHaveBeenCalledTimes(1);
  });

  it('parses prune filters as dockerd does, refusing others by name', () => {
    expect(pruneOptionsOf(true, 0, {})).toEqual({ all: true, keepStorage: 0 });
    expect(pruneOptionsOf(false, 10, { until: ['1h30m'] })).toEqual({ all: false, keepStorage: 10, unusedForMs: 5_400_000 });
    expect(pruneOptionsOf(false, 0, { 'unused-for': ['90s'] }).unusedForMs).toBe(90_000);
    expect(() => pruneOptionsOf(false, 0, { foo: ['x'] })).toThrow("Invalid filter 'foo'");
    expect(() => pruneOptionsOf(false, 0, { type: ['regular'] })).toThrow("build cache filter 'type' is not supported");
    expect(() => pruneOptionsOf(false, 0, { until: ['yesterday'] })).toThrow(`"until" filter expects a duration (e.g., '24h')`);
    expect(() => pruneOptionsOf(false, 0, { until: ['1h'], 'unused-for': ['2h'] })).toThrow('filters expect only one value');
    expect(() => pruneOptionsOf(false, -1, {})).toThrow('keep-storage');
    expect([parseGoDuration('24h'), parseGoDuration('0'), parseGoDuration('1.5s'), parseGoDuration('10')]).toEqual([86_400_000, 0, 1500, undefined]);
  });

  it("maps an entry onto dockerd 20.10's BuildCache fields and types", () => {
    const entry = toDockerBuildCache({ id: 'a'.repeat(64), parent: null, scope: 'system', description: 'RUN x', inUse: false, size: 12, createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: '2026-01-02T00:00:00.000Z', usageCount: 3 });
    expect(Object.keys(entry)).toEqual(['ID', 'Parent', 'Type', 'Description', 'InUse', 'Shared', 'Size', 'CreatedAt', 'LastUsedAt', 'UsageCount']);
    expect(entry).toMatchObject({ Parent: '', Type: 'regular', Shared: false, Size: 12, UsageCount: 3 });
  });
});
