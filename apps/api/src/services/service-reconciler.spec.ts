import type { BusClient } from '@muelle/bus';
import { acquireLease, ContainerRecord, createToken, drainTasks, getPrincipal, listServices, SERVICE_VERSION_LABEL, ServiceRecord, ServiceSpec, updateService } from '@muelle/contracts';
import pino from 'pino';
import { ServiceReconciler } from './service-reconciler';

const OWNER = '6a1f0d7e-0000-4000-8000-000000000001';
const service = (spec: Partial<ServiceRecord> & { spec: ServiceRecord['spec'] }): ServiceRecord => ({
  id: '6a1f0d7e-0000-4000-8000-0000000000a1',
  name: 'web',
  teamId: null,
  ownerId: OWNER,
  previousSpec: null,
  version: 1,
  updateState: 'completed',
  updateMessage: '',
  updateFailedTasks: [],
  restartHistory: [],
  createdAt: '2026-12-04T10:00:00.000Z',
  updatedAt: '2026-12-04T10:00:00.000Z',
  ...spec,
});
const task = (id: string, version: number, state: string, over: Partial<ContainerRecord> = {}) =>
  ({ id: id.repeat(64), state, health: null, exitCode: null, hostId: 'h1', labels: { [SERVICE_VERSION_LABEL]: String(version) }, startedAt: '2026-12-04T10:00:00.000Z', finishedAt: null, createdAt: '2026-12-04T10:00:00.000Z', ...over }) as ContainerRecord;

/** What the reconciler asks of the bus and the containers, in order, for one round (all fakes). */
function harness(record: ServiceRecord, tasks: ContainerRecord[]) {
  const calls: string[] = [];
  const payloads = new Map<string, any>();
  const bus = {
    request: async (contract: { subject: string }, payload: any) => {
      calls.push(contract.subject);
      payloads.set(contract.subject, payload);
      if (contract.subject === acquireLease.subject) return { held: true, holder: 'me', expiresAt: new Date().toISOString() };
      if (contract.subject === listServices.subject) return { items: [record] };
      if (contract.subject === getPrincipal.subject) return { user: { id: OWNER, username: 'ann', role: 'member' }, teamId: null, kind: 'user' };
      if (contract.subject === createToken.subject) return { token: 't' };
      if (contract.subject === drainTasks.subject) return { draining: payload.ids };
      if (contract.subject === updateService.subject) return { ...record, ...payload };
      throw new Error(`unexpected ${contract.subject}`);
    },
    emit: async (contract: { subject: string }) => void calls.push(`emit ${contract.subject}`),
  } as unknown as BusClient;
  const containers = {
    remove: async (_owner: unknown, id: string) => void calls.push(`remove ${id.slice(0, 1)}`),
    create: async () => void calls.push('create'),
  };
  const services = { tasksOf: async () => tasks, taskBody: () => ({}), announceUpdate: () => undefined };
  const reconciler = new ServiceReconciler(bus, { hosts: async () => [] } as never, containers as never, services as never, { MUELLE_SERVICES_RECONCILE_SECONDS: 0 } as never, pino({ level: 'silent' }));
  return { reconciler, calls, payloads };
}

describe('ServiceReconciler', () => {
  it('drains a leaving task of an ingress service through metadata (no faked container state), waits, then removes it', async () => {
    const spec = ServiceSpec.parse({ image: 'x:2', replicas: 1, ports: [{ hostPort: 8080, containerPort: 80 }] });
    const { reconciler, calls, payloads } = harness(service({ spec, version: 2, updateState: 'updating' }), [task('a', 1, 'running')]);
    const started = Date.now();
    await reconciler.round();
    expect(calls.slice(4)).toEqual([drainTasks.subject, 'remove a', 'create']);
    expect(payloads.get(drainTasks.subject)).toEqual({ serviceId: '6a1f0d7e-0000-4000-8000-0000000000a1', ids: ['a'.repeat(64)] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });

  it("writes the restart policy's record before removing a failed task, and makes its replacement only after the delay", async () => {
    const spec = ServiceSpec.parse({ image: 'x', replicas: 1, restartPolicy: { delayMs: 60_000 } });
    const { reconciler, calls, payloads } = harness(service({ spec }), [task('b', 1, 'exited', { exitCode: 3, finishedAt: new Date().toISOString() })]);
    await reconciler.round();
    expect(calls.slice(2)).toEqual([updateService.subject, getPrincipal.subject, createToken.subject, 'remove b']);
    expect(payloads.get(updateService.subject)).toMatchObject({ expectedVersion: 1, bumpVersion: false, restartHistory: [{ task: 'b'.repeat(64), exitCode: 3, restarted: true, reason: 'exited with 3' }] });
  });
});
