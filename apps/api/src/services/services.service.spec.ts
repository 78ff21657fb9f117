import type { BusClient } from '@muelle/bus';
import { ConflictError, getService, ServiceRecord, ServiceSpec, ServiceSpecInput, updateService } from '@muelle/contracts';
import type { RequestPrincipal } from '../auth/principal';
import { ServicesService } from './services.service';

const TEAM = '6a1f0d7e-0000-4000-8000-00000000000a';
const principal = { user: { id: '6a1f0d7e-0000-4000-8000-000000000001', username: 'ann', role: 'member' }, teamId: TEAM, teamName: 'alpha', kind: 'user' } as RequestPrincipal;
const record = (version: number, spec: Partial<ServiceSpecInput>, updatedAt: string): ServiceRecord => ({
  id: '6a1f0d7e-0000-4000-8000-0000000000a1',
  name: 'web',
  teamId: TEAM,
  ownerId: principal.user.id,
  spec: ServiceSpec.parse({ image: 'r/web', ...spec }),
  previousSpec: null,
  version,
  updateState: 'completed',
  updateMessage: '',
  updateFailedTasks: [],
  restartHistory: [],
  createdAt: '2026-12-04T10:00:00.000Z',
  updatedAt,
});
const stale = () => new ConflictError('service web changed since you read it (now version 1, completed); retry', { version: 1, stale: true });

/** How a user's change meets a concurrent one: metadata (a fake here) refuses a write to a record written since it was read. */
describe('ServicesService changes', () => {
  let reads: ServiceRecord[];
  let writes: Array<Record<string, any>>;
  let refuse: Array<Error | undefined>;
  const bus = {
    request: async (contract: { subject: string }, payload: Record<string, any>) => {
      if (contract.subject === getService.subject) return reads.length > 1 ? reads.shift() : reads[0];
      if (contract.subject !== updateService.subject) throw new Error(`unexpected ${contract.subject}`);
      writes.push(payload);
      const error = refuse.shift();
      if (error) throw error;
      return { ...reads[0]!, spec: payload.spec, version: reads[0]!.version + (payload.bumpVersion ? 1 : 0) };
    },
  } as unknown as BusClient;
  const none = async () => undefined;
  const services = new ServicesService(
    bus,
    {} as never,
    { admit: none } as never,
    { requireImagePull: none } as never,
    { record: none } as never,
    {} as never,
    { usages: async () => [] } as never,
    { endpointsFor: none } as never,
    { publish: () => undefined } as never,
  );

  beforeEach(() => {
    writes = [];
    refuse = [];
  });

  it('writes only at the version and updatedAt it read; a merge that lost the race is made again on the new record', async () => {
    reads = [record(1, { replicas: 2 }, '2026-12-04T10:00:00.000Z'), record(1, { replicas: 2, updateConfig: { parallelism: 3 } }, '2026-12-04T10:00:01.000Z')];
    refuse = [stale()];
    const scaled = await services.scale(principal, 'web', 5);
    expect(writes.map((w) => [w.expectedVersion, w.expectedUpdatedAt, w.spec.replicas, w.spec.updateConfig.parallelism])).toEqual([
      [1, '2026-12-04T10:00:00.000Z', 5, 1],
      // Made again on what the other change wrote: its parallelism is kept.
      [1, '2026-12-04T10:00:01.000Z', 5, 3],
    ]);
    expect(scaled.spec).toMatchObject({ replicas: 5, updateConfig: { parallelism: 3 } });
  });

  it('a change made from what the client read (?version=) is refused once the version moved on, naming it', async () => {
    reads = [record(2, { networks: [{ network: 'front', aliases: [] }] }, '2026-12-04T10:00:02.000Z')];
    await expect(services.update(principal, 'web', { networks: [] }, 'merge', 1)).rejects.toThrow(new ConflictError('service web changed since you read it (version 1, now 2); retry'));
    expect(writes).toEqual([]);
    // Another network change landing between the read and the write: refused, not retried onto version 3.
    reads = [record(2, { networks: [] }, '2026-12-04T10:00:02.000Z'), record(3, { networks: [{ network: 'back', aliases: [] }] }, '2026-12-04T10:00:03.000Z')];
    refuse = [stale()];
    await expect(services.update(principal, 'web', { networks: [{ network: 'front', aliases: [] }] }, 'merge', 2)).rejects.toThrow(/changed since you read it \(version 2, now 3\); retry/);
    expect(writes).toHaveLength(1);
  });

  it('does not retry other conflicts (a port another service holds), nor forever', async () => {
    reads = [record(1, {}, '2026-12-04T10:00:00.000Z')];
    refuse = [new ConflictError('port 8080/tcp is already published by service api on every host (routing mesh)', { port: '8080/tcp' })];
    await expect(services.scale(principal, 'web', 3)).rejects.toThrow('port 8080/tcp is already published by service api');
    expect(writes).toHaveLength(1);
    writes = [];
    refuse = [stale(), stale(), stale()];
    await expect(services.scale(principal, 'web', 3)).rejects.toThrow(/changed since you read it/);
    expect(writes).toHaveLength(3);
  });
});
