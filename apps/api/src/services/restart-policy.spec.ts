import { ServiceRestartPolicy } from '@muelle/contracts';
import { applyRestartPolicy, FailedTask } from './restart-policy';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const at = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const policy = (p: Partial<ServiceRestartPolicy>) => ServiceRestartPolicy.parse(p);
const exit = (id: string, msAgo: number, exitCode = 1): FailedTask => ({ id, exitCode, health: null, finishedAt: at(msAgo) });

describe('applyRestartPolicy', () => {
  it('records each failure once, delays its replacement from the exit time, and forgets it once the delay passed (no max_attempts)', () => {
    const first = applyRestartPolicy(policy({ delayMs: 5000 }), [], [exit('a', 1000)], new Set(['a']), NOW);
    expect(first).toMatchObject({ changed: true, delayed: 1, nextAt: NOW + 4000, givenUp: new Set() });
    expect(first.history).toEqual([{ task: 'a', at: at(1000), exitCode: 1, restarted: true, reason: 'exited with 1' }]);
    // Seen again (removal pending): nothing new. Removed and the delay over: the entry goes.
    expect(applyRestartPolicy(policy({ delayMs: 5000 }), first.history, [exit('a', 1000)], new Set(['a']), NOW).changed).toBe(false);
    const later = applyRestartPolicy(policy({ delayMs: 5000 }), first.history, [], new Set(), NOW + 4001);
    expect(later).toMatchObject({ history: [], changed: true, delayed: 0, nextAt: null });
  });

  it('an unhealthy task fails now; a delay of 0 replaces at once', () => {
    const sick: FailedTask = { id: 's', exitCode: null, health: 'unhealthy', finishedAt: null };
    expect(applyRestartPolicy(policy({ delayMs: 0 }), [], [sick], new Set(['s']), NOW)).toMatchObject({ delayed: 0, history: [{ task: 's', at: at(0), reason: 'unhealthy', restarted: true }] });
  });

  it('gives up after max_attempts replacements within the window, keeps the left task with why, and counts again once the window passed', () => {
    const p = policy({ delayMs: 0, maxAttempts: 2, windowMs: 60_000 });
    const two = applyRestartPolicy(p, [], [exit('a', 3000), exit('b', 2000)], new Set(['a', 'b']), NOW);
    expect(two.history.map((e) => e.restarted)).toEqual([true, true]);
    const third = applyRestartPolicy(p, two.history, [exit('c', 100, 3)], new Set(['c']), NOW);
    expect(third.givenUp).toEqual(new Set(['c']));
    expect(third.history.at(-1)).toMatchObject({ task: 'c', restarted: false, reason: 'exited with 3; not restarted: 2 task(s) replaced within 60 s (max_attempts 2)' });
    // The left task stays left while it exists; a failure after the window is replaced again.
    const after = applyRestartPolicy(p, third.history, [exit('c', 100, 3), exit('d', 0)], new Set(['c', 'd']), NOW + 61_000);
    expect(after.givenUp).toEqual(new Set(['c']));
    expect(after.history.map((e) => [e.task, e.restarted])).toEqual([
      ['c', false],
      ['d', true],
    ]);
  });

  it('window 0 counts every failure since the spec changed; max_attempts 0 never gives up', () => {
    const history = [1, 2, 3].map((i) => ({ task: `t${i}`, at: at(86_400_000 * i), exitCode: 1, restarted: true, reason: 'exited with 1' }));
    expect(applyRestartPolicy(policy({ maxAttempts: 3 }), history, [exit('x', 0)], new Set(['x']), NOW).givenUp).toEqual(new Set(['x']));
    const unlimited = applyRestartPolicy(policy({ delayMs: 0 }), history, [exit('x', 0)], new Set(['x']), NOW);
    expect(unlimited.givenUp.size).toBe(0);
    // Nothing to count: only the failed task still existing is kept.
    expect(unlimited.history.map((e) => e.task)).toEqual(['x']);
  });
});
