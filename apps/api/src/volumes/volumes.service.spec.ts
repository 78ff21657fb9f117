import type { BusClient } from '@muelle/bus';
import { ConflictError, ContainerSpec, createVolume, deleteVolume, getVolume, InvalidArgumentError, listVolumes, NotFoundError, PermissionDeniedError, VolumeRecord } from '@muelle/contracts';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import type { Cluster } from '../hosts/cluster';
import { ANONYMOUS_LABEL, VolumesService } from './volumes.service';

const TEAM_A = '6a1f0d7e-0000-4000-8000-00000000000a';
const TEAM_B = '6a1f0d7e-0000-4000-8000-00000000000b';
const principal = (role: 'member' | 'viewer', teamId = TEAM_A): RequestPrincipal =>
  ({ user: { id: '6a1f0d7e-0000-4000-8000-000000000001', username: 'ann', role }, teamId, teamName: 'alpha', kind: 'user', registryCredentials: { username: 'ann', password: 'x' } }) as RequestPrincipal;
const volume = (teamId: string, name = 'data', hostId = 'host-a'): VolumeRecord => ({ name, teamId, driver: 'local', labels: {}, hostId, createdAt: '2026-12-04T02:00:00.000Z' });

/** The decisions VolumesService takes before and around metadata and the agents (the bus is a recording fake). */
describe('VolumesService', () => {
  const requests: Array<{ subject: string; payload: unknown }> = [];
  let answers: Record<string, (payload: never) => unknown>;
  const bus = {
    request: async (contract: { subject: string }, payload: never) => {
      requests.push({ subject: contract.subject, payload });
      const answer = answers[contract.subject];
      if (!answer) throw new NotFoundError(`no answer for ${contract.subject}`);
      return answer(payload);
    },
  } as unknown as BusClient;
  const audit = { record: async () => undefined } as unknown as AuditLog;
  const cluster = { hosts: async () => [], usages: async () => [] } as unknown as Cluster;
  const logger = { warn: () => undefined } as unknown as Logger;
  const service = new VolumesService(bus, cluster, audit, logger);
  const spec = (volumes: string[], hostId?: string) =>
    ContainerSpec.parse({ image: 'busybox:1', volumes: volumes.map((source, i) => ({ kind: 'volume', source, target: `/v${i}` })), placement: { hostId, constraints: {} } });

  beforeEach(() => {
    requests.length = 0;
    answers = {};
  });

  it("looks a volume up in the caller's team only; another team's volume is a 404", async () => {
    answers[getVolume.subject] = () => volume(TEAM_B);
    await expect(service.get(principal('member'), 'data')).rejects.toThrow(NotFoundError);
    expect(requests[0]).toEqual({ subject: getVolume.subject, payload: { teamId: TEAM_A, name: 'data' } });
    answers[getVolume.subject] = () => volume(TEAM_A);
    answers[listVolumes.subject] = () => ({ items: [{ ...volume(TEAM_A), usedBy: ['web'] }] });
    expect((await service.get(principal('member'), 'data')).usedBy).toEqual(['web']);
  });

  it('a viewer may read but neither create, remove nor prune', async () => {
    answers[getVolume.subject] = () => volume(TEAM_A);
    await expect(service.create(principal('viewer'), { name: 'x', driver: 'local', labels: {} })).rejects.toThrow(PermissionDeniedError);
    await expect(service.remove(principal('viewer'), 'data')).rejects.toThrow(PermissionDeniedError);
    await expect(service.prune(principal('viewer'), [])).rejects.toThrow(PermissionDeniedError);
    expect(requests.some((r) => r.subject === deleteVolume.subject)).toBe(false);
  });

  it('returns an existing volume on create without asking any agent', async () => {
    answers[getVolume.subject] = () => volume(TEAM_A);
    expect(await service.create(principal('member'), { name: 'data', driver: 'local', labels: {} })).toEqual(volume(TEAM_A));
    expect(requests.map((r) => r.subject)).toEqual([getVolume.subject]);
  });

  it("asks the volume's own host for its size, in the volume's team, and answers unknown when that host does not answer", async () => {
    answers['muelle.agent.host-b.volumes.disk-usage.v1'] = () => ({ size: 4096 });
    expect(await service.diskUsage(volume(TEAM_B, 'data', 'host-b'))).toBe(4096);
    expect(requests).toEqual([{ subject: 'muelle.agent.host-b.volumes.disk-usage.v1', payload: { name: 'data', teamId: TEAM_B } }]);
    expect(await service.diskUsage(volume(TEAM_A, 'data', 'host-gone'))).toBeUndefined();
  });

  it("prunes only the caller's team's unused volumes", async () => {
    answers[listVolumes.subject] = () => ({ items: [{ ...volume(TEAM_A, 'free'), usedBy: [] }, { ...volume(TEAM_A, 'busy'), usedBy: ['web'] }] });
    answers[getVolume.subject] = (p: { name: string }) => volume(TEAM_A, p.name);
    answers[deleteVolume.subject] = (p: { name: string }) => ({ deleted: volume(TEAM_A, p.name) });
    answers['muelle.agent.host-a.volumes.remove.v1'] = () => ({ removed: true });
    expect(await service.prune(principal('member'), [])).toEqual(['free']);
    expect(requests[0]).toEqual({ subject: listVolumes.subject, payload: { teamId: TEAM_A } });
    expect(requests.filter((r) => r.subject === deleteVolume.subject).map((r) => r.payload)).toEqual([{ teamId: TEAM_A, name: 'free' }]);
  });

  it('a prune of anonymous volumes only leaves named ones', async () => {
    const anonymous = { ...volume(TEAM_A, 'f'.repeat(64)), labels: { 'com.docker.volume.anonymous': '' }, usedBy: [] };
    answers[listVolumes.subject] = () => ({ items: [anonymous, { ...volume(TEAM_A, 'named'), usedBy: [] }] });
    answers[getVolume.subject] = (p: { name: string }) => (p.name === 'named' ? volume(TEAM_A, 'named') : anonymous);
    answers[deleteVolume.subject] = (p: { name: string }) => ({ deleted: volume(TEAM_A, p.name) });
    answers['muelle.agent.host-a.volumes.remove.v1'] = () => ({ removed: true });
    expect(await service.prune(principal('member'), [], true)).toEqual(['f'.repeat(64)]);
  });

  it("pins a container to its existing volumes' host and leaves new ones to be made where it lands", async () => {
    answers[getVolume.subject] = (p: { name: string }) => {
      if (p.name === 'new') throw new NotFoundError('no such volume');
      return volume(TEAM_A, p.name, p.name === 'other' ? 'host-b' : 'host-a');
    };
    const placed = await service.placementFor(principal('member'), spec(['data', 'new']));
    expect(placed).toMatchObject({ hostId: 'host-a', missing: ['new'], spec: { placement: { hostId: 'host-a' } } });
    await expect(service.placementFor(principal('member'), spec(['data', 'other']))).rejects.toThrow(/different hosts \(data on host-a, other on host-b\)/);
    await expect(service.placementFor(principal('member'), spec(['data'], 'host-b'))).rejects.toThrow(InvalidArgumentError);
    expect((await service.placementFor(principal('member'), spec(['new']))).hostId).toBeNull();
    await expect(service.placementFor(principal('member'), spec(['v'.repeat(111)]))).rejects.toThrow(/at most 110/);
  });

  it('records the missing volumes on the chosen host, insisting on that host; the anonymous ones with their label', async () => {
    const anonymous = 'a'.repeat(64);
    answers[createVolume.subject] = (p: { name: string }) => ({ created: true, volume: volume(TEAM_A, p.name) });
    await service.recordOnHost(principal('member'), 'host-a', ['new', anonymous], new Set([anonymous]));
    expect(requests).toEqual([
      { subject: createVolume.subject, payload: { teamId: TEAM_A, name: 'new', hostId: 'host-a', labels: {}, requireHost: true } },
      { subject: createVolume.subject, payload: { teamId: TEAM_A, name: anonymous, hostId: 'host-a', labels: { [ANONYMOUS_LABEL]: '' }, requireHost: true } },
    ]);
  });

  it("gives -v /path and the image's VOLUMEs nothing is mounted at a new anonymous volume each, as dockerd", () => {
    const { volumes, anonymous } = service.withAnonymous(
      [
        { kind: 'volume', target: '/data', readOnly: false },
        { kind: 'volume', source: 'named', target: '/cache/', readOnly: true },
        { kind: 'bind', source: '/srv/x', target: '/x', readOnly: false },
      ],
      ['/cache', '/logs/', '/x', '/data', 'relative'],
    );
    expect(volumes.map((v) => [v.kind, anonymous.has(v.source) ? 'anonymous' : v.source, v.target])).toEqual([
      ['volume', 'anonymous', '/data'],
      ['volume', 'named', '/cache/'],
      ['bind', '/srv/x', '/x'],
      ['volume', 'anonymous', '/logs'],
    ]);
    expect([...anonymous].every((name) => /^[0-9a-f]{64}$/.test(name))).toBe(true);
    expect(anonymous.size).toBe(2);
    expect(() => service.withAnonymous([{ kind: 'bind', target: '/x', readOnly: false }], [])).toThrow('the bind mount at /x needs a source');
  });

  it('places new anonymous volumes as missing without looking them up', async () => {
    const name = 'b'.repeat(64);
    const placed = await service.placementFor(principal('member'), spec([name]), new Set([name]));
    expect(placed).toMatchObject({ hostId: null, missing: [name] });
    expect(requests).toEqual([]);
  });

  it("removes a removed container's anonymous volumes, not its named ones nor one another container still mounts", async () => {
    const [gone, shared] = ['c'.repeat(64), 'd'.repeat(64)];
    const anonymous = (name: string) => ({ ...volume(TEAM_A, name), labels: { [ANONYMOUS_LABEL]: '' } });
    answers[getVolume.subject] = (p: { name: string }) => (p.name === 'named' ? volume(TEAM_A, 'named') : anonymous(p.name));
    answers[listVolumes.subject] = () => ({ items: [] });
    answers[deleteVolume.subject] = (p: { name: string }) => {
      if (p.name === shared) throw new ConflictError(`volume ${shared} is in use by container other`);
      return { deleted: volume(TEAM_A, p.name) };
    };
    answers['muelle.agent.host-a.volumes.remove.v1'] = () => ({ removed: true });
    await service.removeAnonymousOf(principal('member'), { teamId: TEAM_A, spec: spec([gone, 'named', shared]) });
    expect(requests.filter((r) => r.subject === deleteVolume.subject).map((r) => (r.payload as { name: string }).name)).toEqual([gone, shared]);
    expect(requests.filter((r) => r.subject.startsWith('muelle.agent.')).map((r) => (r.payload as { name: string }).name)).toEqual([gone]);
    // A viewer may not: the volume stays.
    requests.length = 0;
    await expect(service.removeAnonymousOf(principal('viewer'), { teamId: TEAM_A, spec: spec([gone]) })).rejects.toThrow(PermissionDeniedError);
    expect(requests.some((r) => r.subject === deleteVolume.subject)).toBe(false);
  });
});
