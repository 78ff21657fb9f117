import { RESTART_HISTORY_MAX, RestartEntry, ServiceRestartPolicy } from '@muelle/contracts';

/** A failed task as the restart policy needs it. */
export interface FailedTask {
  id: string;
  exitCode: number | null;
  health: string | null;
  finishedAt: string | null;
}

export interface RestartDecision {
  /** The record to keep (new failures added, entries that no longer count dropped). */
  history: RestartEntry[];
  /** Whether `history` differs from the record read. */
  changed: boolean;
  /** Failed tasks the policy gave up on: left as they are, holding their slot. */
  givenUp: ReadonlySet<string>;
  /** Replacements still waiting out `delayMs`. */
  delayed: number;
  /** When the first of them may be made (epoch ms), if any. */
  nextAt: number | null;
}

/**
 * Swarm's restart policy over the service's failed tasks, a pure function. Each failure is recorded
 * once (by task id): replaced when fewer than `maxAttempts` replacements were made within `windowMs`
 * (no limit at 0), otherwise left as it is with the reason, for `service ps` and `service inspect`.
 * A replacement is made `delayMs` after the failure (its exit time, or now for an unhealthy task).
 */
export function applyRestartPolicy(policy: ServiceRestartPolicy, history: readonly RestartEntry[], failures: readonly FailedTask[], existing: ReadonlySet<string>, now: number): RestartDecision {
  const known = new Set(history.map((e) => e.task));
  const since = policy.windowMs ? now - policy.windowMs : -Infinity;
  let used = history.filter((e) => e.restarted && Date.parse(e.at) >= since).length;
  const added: RestartEntry[] = [];
  const fresh = failures.filter((t) => !known.has(t.id)).sort((a, b) => failedAt(a, now) - failedAt(b, now) || a.id.localeCompare(b.id));
  for (const task of fresh) {
    const restarted = !policy.maxAttempts || used < policy.maxAttempts;
    if (restarted) used++;
    const why = task.health === 'unhealthy' ? 'unhealthy' : `exited with ${task.exitCode ?? 'unknown status'}`;
    const reason = restarted ? why : `${why}; not restarted: ${used} task(s) replaced within ${windowText(policy.windowMs)} (max_attempts ${policy.maxAttempts})`;
    added.push({ task: task.id, at: new Date(failedAt(task, now)).toISOString(), exitCode: task.exitCode, restarted, reason });
  }
  // An entry stays while its task exists (so it is counted once), and a replacement also while it delays or counts against maxAttempts.
  const counts = (e: RestartEntry) =>
    existing.has(e.task) || (e.restarted && (Date.parse(e.at) + policy.delayMs > now || (policy.maxAttempts > 0 && Date.parse(e.at) >= since)));
  const all = [...history, ...added];
  const kept = all.filter(counts).slice(-RESTART_HISTORY_MAX);
  const waiting = kept.filter((e) => e.restarted && Date.parse(e.at) + policy.delayMs > now).map((e) => Date.parse(e.at) + policy.delayMs);
  return {
    history: kept,
    changed: added.length > 0 || kept.length !== history.length,
    givenUp: new Set(kept.filter((e) => !e.restarted).map((e) => e.task)),
    delayed: waiting.length,
    nextAt: waiting.length ? Math.min(...waiting) : null,
  };
}

/** When a task failed: its exit, or now for one still running (unhealthy). */
function failedAt(task: FailedTask, now: number): number {
  return task.finishedAt ? Math.min(now, Date.parse(task.finishedAt)) : now;
}

function windowText(ms: number): string {
  return ms ? `${ms / 1000} s` : 'the current spec';
}
