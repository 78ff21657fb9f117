import type { ContainerState, HealthStatus, RestartEntry, ServiceRecord, ServiceSpec, UpdateState } from '@muelle/contracts';
import { applyRestartPolicy } from './restart-policy';

/** One task (container) of a service as the planner sees it. */
export interface TaskView {
  id: string;
  /** The service version it was made for. */
  version: number;
  state: ContainerState;
  health: HealthStatus | null;
  exitCode: number | null;
  hostId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt: string;
}

/** What the reconciler does for one service this round: a record change first, then removals, then creations. */
export interface ServicePlan {
  /** Tasks to make with the service's (possibly new) current spec. */
  create: number;
  /** Tasks to remove (force). */
  remove: string[];
  /** A change of the record; applied only if it is still at the version read. */
  record?: { updateState: UpdateState; updateMessage: string; updateFailedTasks?: string[]; rollback?: { spec: ServiceSpec; previousSpec: ServiceSpec } };
  /** The restart policy's new record of failed tasks, written with (or without) `record`. */
  restartHistory?: RestartEntry[];
  /** Why the update does not move on this round (for logs and `service inspect`). */
  waiting?: string;
}

const GONE: ReadonlySet<ContainerState> = new Set(['exited', 'dead', 'lost', 'removing']);

/**
 * The services reconciler's decision, a pure function: the service record, its tasks, the hosts that
 * cannot run tasks (down or draining) and the time in; what to change out. Rules (Swarm's, simplified):
 *
 * - A task is failed when it exited, is lost, turned unhealthy, or its host is down/draining; failed
 *   tasks are removed and replaced, except exits the restart condition keeps (`none`; exit 0 with
 *   `on-failure`) and tasks the restart policy gave up on (max_attempts within window), which stay
 *   and hold their slot. A task's own failure (exit, unhealthy) is replaced `delay` after it failed;
 *   a task of a lost or unavailable host at once, uncounted (see applyRestartPolicy).
 * - A task is ready when it runs and is healthy, or, without a health check, has run `monitorMs`.
 * - While old-version tasks remain, the update moves one batch (`parallelism`) at a time, only when
 *   every new task is ready (the health gate) and `delayMs` passed since the newest started.
 *   stop-first removes a batch and makes its replacements; start-first makes the batch first and
 *   removes as many old tasks as new ones turned ready.
 * - A new-version task failing during an update (it exited or turned unhealthy; not its host being
 *   lost) pauses it, rolls back to the previous spec, or is just replaced, by `failureAction` (a
 *   rollback that fails pauses: no loop between two bad specs). With `maxFailureRatio`, failures of
 *   up to that share of the replicas (distinct tasks, kept on the record) are only replaced.
 */
export function planService(service: ServiceRecord, tasks: readonly TaskView[], unavailableHosts: ReadonlySet<string>, now: number): ServicePlan {
  const spec = service.spec;
  const config = spec.updateConfig;
  const updating = service.updateState === 'updating' || service.updateState === 'rollback_started';
  const policy = spec.restartPolicy;
  const hostGone = (t: TaskView) => t.state === 'lost' || (t.hostId !== null && unavailableHosts.has(t.hostId));
  const failed = (t: TaskView) => GONE.has(t.state) || t.health === 'unhealthy' || hostGone(t);
  const keptByCondition = (t: TaskView) =>
    GONE.has(t.state) && t.state !== 'lost' && t.health !== 'unhealthy' && (policy.condition === 'none' || (policy.condition === 'on-failure' && t.exitCode === 0));
  const restart = applyRestartPolicy(
    policy,
    service.restartHistory,
    tasks.filter((t) => failed(t) && !keptByCondition(t) && !hostGone(t)),
    new Set(tasks.map((t) => t.id)),
    now,
  );
  const kept = (t: TaskView) => keptByCondition(t) || restart.givenUp.has(t.id);
  const ready = (t: TaskView) =>
    t.state === 'running' && (t.health === 'healthy' || (t.health === null && t.startedAt !== null && now - Date.parse(t.startedAt) >= config.monitorMs));

  const retired = tasks.filter((t) => failed(t) && kept(t));
  const broken = tasks.filter((t) => failed(t) && !kept(t));
  const live = tasks.filter((t) => !failed(t));
  const current = live.filter((t) => t.version === service.version);
  const old = live.filter((t) => t.version !== service.version);
  const remove = broken.map((t) => t.id);
  const slots = spec.replicas - retired.length;

  // Only the new version's own failures (exit, unhealthy) stop an update; a lost host says nothing about the spec.
  const brokenNew = broken.filter((t) => t.version === service.version && t.state !== 'lost' && !(t.hostId !== null && unavailableHosts.has(t.hostId)));
  // Failures of distinct new tasks during this update, measured against max_failure_ratio (of the replicas).
  const failures = [...new Set([...service.updateFailedTasks, ...brokenNew.map((t) => t.id)])];
  const failing = updating && brokenNew.length > 0 && config.failureAction !== 'continue';
  const tolerated = failing && failures.length <= config.maxFailureRatio * spec.replicas;
  // Within the ratio: replaced like any failed task, the update goes on, each failure remembered once.
  const remembered: ServicePlan['record'] =
    tolerated && failures.length > service.updateFailedTasks.length
      ? { updateState: service.updateState, updateMessage: `${failures.length} new task(s) failed, within max_failure_ratio ${config.maxFailureRatio}`, updateFailedTasks: failures }
      : undefined;
  // Replacements of failed tasks wait out the restart delay (the other slots are filled at once).
  const delayedWhy = restart.delayed ? `restarting ${restart.delayed} failed task(s) in ${Math.max(0, restart.nextAt! - now)} ms (restart_policy.delay)` : undefined;
  const done = (plan: ServicePlan): ServicePlan => {
    const record = remembered && !plan.record ? remembered : plan.record;
    const create = Math.max(0, plan.create - restart.delayed);
    const waiting = plan.waiting ?? (create < plan.create ? delayedWhy : undefined);
    return { ...plan, create, ...(record && { record }), ...(waiting && { waiting }), ...(restart.changed && { restartHistory: restart.history }) };
  };
  if (failing && !tolerated) {
    const ratio = config.maxFailureRatio ? `; ${failures.length} of ${spec.replicas} failed, more than max_failure_ratio ${config.maxFailureRatio}` : '';
    const why = `task ${brokenNew[0]!.id.slice(0, 12)} of version ${service.version} failed (${describe(brokenNew[0]!)})${ratio}`;
    if (config.failureAction === 'rollback' && service.updateState === 'updating' && service.previousSpec) {
      // The rollback's new spec version starts a new restart record.
      return { create: 0, remove, record: { updateState: 'rollback_started', updateMessage: `rollback: ${why}`, rollback: { spec: service.previousSpec, previousSpec: spec } } };
    }
    return done({ create: 0, remove, record: { updateState: 'paused', updateMessage: `update paused: ${why}` } });
  }
  if (service.updateState === 'paused') return done({ create: 0, remove, waiting: service.updateMessage });

  if (!old.length) {
    // Steady state, or the last batch: keep the count, and close the update once every task is ready.
    const surplus = current.length - slots;
    const extra = surplus > 0 ? [...current].sort(byReadinessThenAge(ready)).slice(0, surplus).map((t) => t.id) : [];
    const create = Math.max(0, slots - current.length);
    const plan: ServicePlan = { create, remove: [...remove, ...extra] };
    if (updating && create === 0 && current.every(ready)) {
      // A finished rollback keeps saying why it happened.
      plan.record = service.updateState === 'updating' ? { updateState: 'completed', updateMessage: '' } : { updateState: 'rollback_completed', updateMessage: service.updateMessage };
    }
    return done(plan);
  }

  const readyNew = current.filter(ready);
  const pending = current.length - readyNew.length;
  const batch = Math.min(config.parallelism || old.length, old.length);
  const newestStart = Math.max(0, ...current.map((t) => Date.parse(t.startedAt ?? t.createdAt)));
  const gateOpen = pending === 0 && now - newestStart >= config.delayMs;
  const oldestFirst = [...old].sort((a, b) => a.createdAt.localeCompare(b.createdAt));

  if (config.order === 'start-first') {
    // Old tasks leave as their replacements turn ready; then the next batch starts.
    const replaced = Math.max(0, readyNew.length + old.length - slots);
    const leaving = oldestFirst.slice(0, Math.min(replaced, old.length)).map((t) => t.id);
    const remaining = old.length - leaving.length;
    const missing = Math.max(0, slots - (current.length + remaining));
    const next = gateOpen && remaining > 0 ? Math.min(batch, remaining) : 0;
    return done({ create: missing + next, remove: [...remove, ...leaving], waiting: gateOpen ? undefined : waitingWhy(pending, config.delayMs) });
  }
  const leaving = gateOpen ? oldestFirst.slice(0, batch).map((t) => t.id) : [];
  const create = Math.max(0, slots - (current.length + old.length - leaving.length));
  return done({ create, remove: [...remove, ...leaving], waiting: gateOpen ? undefined : waitingWhy(pending, config.delayMs) });
}

function waitingWhy(pending: number, delayMs: number): string {
  return pending ? `waiting for ${pending} new task(s) to turn ready` : `waiting ${delayMs} ms between batches`;
}

/** Not-ready tasks go first when there are too many, then the newest. */
function byReadinessThenAge(ready: (t: TaskView) => boolean) {
  return (a: TaskView, b: TaskView) => Number(ready(a)) - Number(ready(b)) || b.createdAt.localeCompare(a.createdAt);
}

function describe(task: TaskView): string {
  if (task.health === 'unhealthy') return 'unhealthy';
  if (task.state === 'lost') return 'its host is down';
  if (GONE.has(task.state)) return `exited with ${task.exitCode ?? 'unknown status'}`;
  return 'its host is down or draining';
}
