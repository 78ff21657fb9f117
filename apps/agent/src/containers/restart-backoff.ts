/** A container that ran this long before exiting restarts without delay again (Docker's rule). */
export const BACKOFF_RESET_AFTER_MS = 10_000;

/**
 * Docker's restart back-off: 100 ms doubling per restart, capped at 10 s, and back to the first
 * step once a run lasted BACKOFF_RESET_AFTER_MS — so a container that fails once a day is not
 * delayed by every failure it ever had. Returns the delay and the step for the next restart.
 */
export function nextRestartDelay(step: number, startedAt: string | null, finishedAt: string | null): { delayMs: number; nextStep: number } {
  const ranMs = startedAt && finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : 0;
  const current = ranMs >= BACKOFF_RESET_AFTER_MS ? 0 : step;
  return { delayMs: Math.min(100 * 2 ** Math.min(current, 10), 10_000), nextStep: current + 1 };
}
