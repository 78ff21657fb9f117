import type { BusClient } from '@muelle/bus';
import { createNetwork, deleteNetwork, getNetwork, InvalidArgumentError, NetworkRecord, networkRemoved, NotFoundError, PermissionDeniedError } from '@muelle/contracts';
import type { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import { NetworksService } from './networks.service';

const TEAM_A = '6a1f0d7e-0000-4000-8000-00000000000a';
const TEAM_B = '6a1f0d7e-0000-4000-8000-00000000000b';
const principal = (role: 'member' | 'viewer', teamId = TEAM_A): RequestPrincipal =>
  ({ user: { id: '6a1f0d7e-0000-4000-8000-000000000001', username: 'ann', role }, teamId, teamName: 'alpha', kind: 'user', registryCredentials: { username: 'ann', password: 'x' } }) as RequestPrincipal;
const network = (teamId: string): NetworkRecord => ({ id: 'a'.repeat(64), name: 'front', teamId, driver: 'overlay', subnet: '10.90.0.0/24', gateway: '10.90.0.1', internal: false, labels: {}, createdAt: '2026-12-03T18:00:00.000Z', vni: 4096 });

/** The decisions NetworksService takes before and around metadata (the bus is a recording fake). */
describe('NetworksService', () => {
  const requests: Array<{ subject: string; payload: unknown }> = [];
  const events: Array<{ subject: string; payload: unknown }> = [];
  let answer: NetworkRecord;
  const bus = {
    request: async (contract: { subject: string }, payload: unknown) => {
      requests.push({ subject: contract.subject, payload });
      return answer;
    },
    emit: async (contract: { subject: string }, payload: unknown) => {
      events.push({ subject: contract.subject, payload });
    },
  } as unknown as BusClient;
  const audit = { record: async () => undefined } as unknown as AuditLog;
  const service = new NetworksService(bus, audit);

  beforeEach(() => {
    requests.length = 0;
    events.length = 0;
  });

  it("creates in the caller's team; a viewer may not", async () => {
    answer = network(TEAM_A);
    await service.create(principal('member'), { name: 'front', driver: 'overlay', internal: false, labels: {} });
    expect(requests).toEqual([{ subject: createNetwork.subject, payload: { name: 'front', driver: 'overlay', internal: false, labels: {}, teamId: TEAM_A } }]);
    await expect(service.create(principal('viewer'), { name: 'x', driver: 'overlay', internal: false, labels: {} })).rejects.toThrow(PermissionDeniedError);
  });

  it("asks metadata within the caller's team and answers another team's network with 404", async () => {
    answer = network(TEAM_B);
    await expect(service.get(principal('member'), 'front')).rejects.toThrow(NotFoundError);
    expect(requests[0]).toEqual({ subject: getNetwork.subject, payload: { ref: 'front', teamId: TEAM_A } });
  });

  it("joins a container to the team's network by name, only in bridge mode, and not for a viewer", async () => {
    answer = network(TEAM_A);
    expect(await service.endpointsFor(principal('member'), ['front'], 'bridge')).toEqual([{ id: 'a'.repeat(64), name: 'front' }]);
    await expect(service.endpointsFor(principal('member'), ['front'], 'host')).rejects.toThrow(InvalidArgumentError);
    await expect(service.endpointsFor(principal('viewer'), ['front'], 'bridge')).rejects.toThrow(PermissionDeniedError);
    expect(await service.endpointsFor(principal('member'), [], 'none')).toEqual([]);
  });

  it('announces a removal to the hosts only after metadata deleted the record, and not for another team', async () => {
    answer = network(TEAM_A);
    await service.remove(principal('member'), 'front');
    expect(requests.map((r) => r.subject)).toEqual([getNetwork.subject, deleteNetwork.subject]);
    expect(events).toEqual([{ subject: networkRemoved.subject, payload: { id: 'a'.repeat(64) } }]);
    answer = network(TEAM_B);
    events.length = 0;
    await expect(service.remove(principal('member'), 'front')).rejects.toThrow(NotFoundError);
    expect(events).toEqual([]);
  });
});
