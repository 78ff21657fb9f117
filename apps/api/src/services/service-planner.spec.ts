import { ServiceRecord, ServiceSpec, ServiceSpecInput } from '@muelle/contracts';
import { planService, TaskView } from './service-planner';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();
let counter = 0;

function service(spec: ServiceSpecInput, over: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    name: 'web',
    teamId: null,
    ownerId: '00000000-0000-4000-8000-000000000002',
    spec: ServiceSpec.parse(spec),
    previousSpec: null,
    version: 1,
    updateState: 'completed',
    updateMessage: '',
    updateFailedTasks: [],
    restartHistory: [],
    createdAt: ago(60_000),
    updatedAt: ago(60_000),
    ...over,
  };
}

function task(over: Partial<TaskView> = {}): TaskView {
  counter++;
  return { id: counter.toString(16).padStart(64, '0'), version: 1, state: 'running', health: null, exitCode: null, hostId: 'h1', startedAt: ago(60_000), finishedAt: null, createdAt: ago(61_000 - counter), ...over };
}

describe('planService', () => {
  it('makes the missing replicas and removes the surplus, not-ready ones first', () => {
    expect(planService(service({ image: 'x', replicas: 3 }), [task()], new Set(), NOW)).toEqual({ create: 2, remove: [] });
    const fresh = task({ startedAt: ago(100) });
    const plan = planService(service({ image: 'x', replicas: 1 }), [task(), fresh], new Set(), NOW);
    expect(plan).toEqual({ create: 0, remove: [fresh.id] });
  });

  it('replaces tasks that exited, turned unhealthy or sit on a down host; the restart condition keeps some exits', () => {
    const exited = task({ state: 'exited', exitCode: 1 });
    const sick = task({ health: 'unhealthy' });
    const stranded = task({ hostId: 'h2' });
    const plan = planService(service({ image: 'x', replicas: 4, restartPolicy: { delayMs: 0 } }), [task(), exited, sick, stranded], new Set(['h2']), NOW);
    expect(plan).toMatchObject({ create: 3, remove: [exited.id, sick.id, stranded.id] });
    // The task's own failures are on the restart record; the stranded one is not (its host failed).
    expect(plan.restartHistory?.map((e) => [e.task, e.restarted, e.reason])).toEqual([
      [exited.id, true, 'exited with 1'],
      [sick.id, true, 'unhealthy'],
    ]);
    const done = task({ state: 'exited', exitCode: 0 });
    expect(planService(service({ image: 'x', replicas: 2, restartPolicy: { condition: 'on-failure' } }), [task(), done], new Set(), NOW)).toEqual({ create: 0, remove: [] });
  });

  it('stop-first: one batch at a time, only when every new task is ready (health gate)', () => {
    const s = service({ image: 'x:2', replicas: 3, updateConfig: { parallelism: 1 } }, { version: 2, updateState: 'updating' });
    const olds = [task(), task(), task()];
    const first = planService(s, olds, new Set(), NOW);
    expect(first).toEqual({ create: 1, remove: [olds[0]!.id], waiting: undefined });
    const starting = task({ version: 2, health: 'starting', startedAt: ago(500) });
    expect(planService(s, [starting, olds[1]!, olds[2]!], new Set(), NOW)).toMatchObject({ create: 0, remove: [], waiting: 'waiting for 1 new task(s) to turn ready' });
    const healthy = { ...starting, health: 'healthy' as const };
    expect(planService(s, [healthy, olds[1]!, olds[2]!], new Set(), NOW)).toMatchObject({ create: 1, remove: [olds[1]!.id] });
  });

  it('start-first: the new task starts before an old one leaves, which goes once it is ready', () => {
    const s = service({ image: 'x:2', replicas: 2, updateConfig: { parallelism: 1, order: 'start-first' } }, { version: 2, updateState: 'updating' });
    const olds = [task(), task()];
    expect(planService(s, olds, new Set(), NOW)).toMatchObject({ create: 1, remove: [] });
    const ready = task({ version: 2, health: 'healthy', startedAt: ago(3000) });
    expect(planService(s, [...olds, ready], new Set(), NOW)).toMatchObject({ create: 1, remove: [olds[0]!.id] });
  });

  it('waits delayMs after the newest new task started', () => {
    const s = service({ image: 'x:2', replicas: 2, updateConfig: { delayMs: 10_000 } }, { version: 2, updateState: 'updating' });
    const ready = task({ version: 2, health: 'healthy', startedAt: ago(5_000) });
    expect(planService(s, [ready, task()], new Set(), NOW)).toMatchObject({ create: 0, remove: [], waiting: 'waiting 10000 ms between batches' });
  });

  it('closes the update once only ready new tasks remain', () => {
    const s = service({ image: 'x:2', replicas: 1 }, { version: 2, updateState: 'updating' });
    expect(planService(s, [task({ version: 2, health: 'healthy' })], new Set(), NOW)).toEqual({ create: 0, remove: [], record: { updateState: 'completed', updateMessage: '' } });
    expect(planService({ ...s, updateState: 'rollback_started' }, [task({ version: 2 })], new Set(), NOW).record?.updateState).toBe('rollback_completed');
  });

  it('a new task failing during the update rolls back to the previous spec, or pauses', () => {
    const previous = ServiceSpec.parse({ image: 'x:1', replicas: 2 });
    const s = service({ image: 'x:2', replicas: 2, updateConfig: { failureAction: 'rollback' } }, { version: 2, updateState: 'updating', previousSpec: previous });
    const sick = task({ version: 2, health: 'unhealthy' });
    const plan = planService(s, [sick, task()], new Set(), NOW);
    expect(plan.record).toMatchObject({ updateState: 'rollback_started', rollback: { spec: previous, previousSpec: s.spec } });
    expect(plan.record?.updateMessage).toMatch(/rollback: task .* of version 2 failed \(unhealthy\)/);
    expect(plan).toMatchObject({ create: 0, remove: [sick.id] });
    // A rollback that fails pauses instead of going back again.
    expect(planService({ ...s, updateState: 'rollback_started' }, [sick, task()], new Set(), NOW).record?.updateState).toBe('paused');
    const paused = planService(service({ image: 'x:2', replicas: 2 }, { version: 2, updateState: 'updating' }), [task({ version: 2, state: 'exited', exitCode: 2 }), task()], new Set(), NOW);
    expect(paused.record).toEqual({ updateState: 'paused', updateMessage: expect.stringContaining('exited with 2') });
  });

  it("does not blame the new version for a lost host: its task is replaced, the update goes on", () => {
    const s = service({ image: 'x:2', replicas: 2, updateConfig: { failureAction: 'rollback' } }, { version: 2, updateState: 'updating', previousSpec: ServiceSpec.parse({ image: 'x:1' }) });
    const stranded = task({ version: 2, hostId: 'h2', health: 'healthy' });
    const plan = planService(s, [stranded, task()], new Set(['h2']), NOW);
    expect(plan.record).toBeUndefined();
    // The stranded task goes, and the update moves on to the old one (stop-first): two to make.
    expect(plan.remove[0]).toBe(stranded.id);
    expect(plan.create).toBe(2);
  });

  it('makes nothing new while paused', () => {
    const s = service({ image: 'x:2', replicas: 2 }, { version: 2, updateState: 'paused', updateMessage: 'update paused: …' });
    expect(planService(s, [task()], new Set(), NOW)).toEqual({ create: 0, remove: [], waiting: 'update paused: …' });
  });

  it('max_failure_ratio: failures of up to that share of the replicas are replaced and remembered once; one more applies failureAction', () => {
    const previous = ServiceSpec.parse({ image: 'x:1', replicas: 4 });
    const s = service({ image: 'x:2', replicas: 4, updateConfig: { failureAction: 'rollback', maxFailureRatio: 0.5 } }, { version: 2, updateState: 'updating', previousSpec: previous });
    const olds = [task(), task(), task()];
    const first = task({ version: 2, state: 'exited', exitCode: 1 });
    const plan = planService(s, [first, ...olds], new Set(), NOW);
    expect(plan.record).toEqual({ updateState: 'updating', updateMessage: '1 new task(s) failed, within max_failure_ratio 0.5', updateFailedTasks: [first.id] });
    expect(plan.remove).toContain(first.id);
    expect(plan.create).toBeGreaterThan(0);
    // The same failed task seen again (its removal failed) is not counted twice, nor written again.
    const again = planService({ ...s, updateFailedTasks: [first.id] }, [first, ...olds], new Set(), NOW);
    expect(again.record).toBeUndefined();
    expect(again.remove).toContain(first.id);
    const second = task({ version: 2, health: 'unhealthy' });
    expect(planService({ ...s, updateFailedTasks: [first.id] }, [second, ...olds], new Set(), NOW).record?.updateFailedTasks).toEqual([first.id, second.id]);
    // A third of four is more than half: rollback, saying so.
    const third = task({ version: 2, state: 'exited', exitCode: 2 });
    const over = planService({ ...s, updateFailedTasks: [first.id, second.id] }, [third, ...olds], new Set(), NOW);
    expect(over.record).toMatchObject({ updateState: 'rollback_started', rollback: { spec: previous } });
    expect(over.record?.updateMessage).toMatch(/exited with 2\); 3 of 4 failed, more than max_failure_ratio 0.5$/);
    // With the default ratio 0 the first failure is enough (Swarm's default).
    const strict = service({ image: 'x:2', replicas: 4, updateConfig: { failureAction: 'pause' } }, { version: 2, updateState: 'updating' });
    expect(planService(strict, [first, ...olds], new Set(), NOW).record?.updateState).toBe('paused');
  });

  it('a rollback whose new tasks fail beyond the ratio pauses, within it goes on', () => {
    const s = service({ image: 'x:1', replicas: 2, updateConfig: { failureAction: 'rollback', maxFailureRatio: 0.5 } }, { version: 3, updateState: 'rollback_started', previousSpec: ServiceSpec.parse({ image: 'x:2' }) });
    const failed = task({ version: 3, state: 'exited', exitCode: 1 });
    expect(planService(s, [failed, task()], new Set(), NOW).record).toMatchObject({ updateState: 'rollback_started', updateFailedTasks: [failed.id] });
    const more = task({ version: 3, state: 'exited', exitCode: 1 });
    expect(planService({ ...s, updateFailedTasks: [failed.id] }, [more, task()], new Set(), NOW).record?.updateState).toBe('paused');
  });
});

describe('planService with a restart policy', () => {
  it("fills the other slots at once but waits the restart delay for a failed task's replacement", () => {
    const exited = task({ state: 'exited', exitCode: 1, finishedAt: ago(2000) });
    const plan = planService(service({ image: 'x', replicas: 3 }), [task(), exited], new Set(), NOW);
    expect(plan).toMatchObject({ create: 1, remove: [exited.id], waiting: 'restarting 1 failed task(s) in 3000 ms (restart_policy.delay)' });
    expect(plan.restartHistory).toEqual([{ task: exited.id, at: ago(2000), exitCode: 1, restarted: true, reason: 'exited with 1' }]);
    // Next round, removed and still within the delay: nothing to make yet; after it, the replacement.
    const s = service({ image: 'x', replicas: 2 }, { restartHistory: plan.restartHistory });
    expect(planService(s, [task()], new Set(), NOW + 1000)).toMatchObject({ create: 0, waiting: 'restarting 1 failed task(s) in 2000 ms (restart_policy.delay)' });
    expect(planService(s, [task()], new Set(), NOW + 3000)).toEqual({ create: 1, remove: [], restartHistory: [] });
  });

  it('leaves a task the policy gave up on in its slot, and does not close an update over a delayed replacement', () => {
    const s = service({ image: 'x', replicas: 2, restartPolicy: { maxAttempts: 1, delayMs: 0 } }, { restartHistory: [{ task: 'gone', at: ago(1000), exitCode: 1, restarted: true, reason: 'exited with 1' }] });
    const exited = task({ state: 'exited', exitCode: 1, finishedAt: ago(10) });
    const plan = planService(s, [task(), exited], new Set(), NOW);
    expect(plan).toMatchObject({ create: 0, remove: [] });
    expect(plan.restartHistory?.at(-1)).toMatchObject({ task: exited.id, restarted: false });
    const updating = service({ image: 'x:2', replicas: 1 }, { version: 2, updateState: 'updating', restartHistory: [{ task: 'old', at: ago(1000), exitCode: 1, restarted: true, reason: '' }] });
    const waiting = planService(updating, [], new Set(), NOW);
    expect(waiting.create).toBe(0);
    expect(waiting.record).toBeUndefined();
  });
});
