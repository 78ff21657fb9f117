import type { HealthcheckSpec } from '@muelle/contracts';
import type { HealthConfig } from '@muelle/oci';

/** The check the agent runs: Docker's defaults applied, durations in ms. */
export interface ResolvedHealthcheck {
  /** `['CMD', arg…]` or `['CMD-SHELL', line]`. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  retries: number;
}

/** Docker's defaults (daemon/health.go): a probe every 30 s, 30 s to answer, unhealthy after 3 failures. */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 3 } as const;

const NS_PER_MS = 1_000_000;
const fromNs = (ns: number | undefined) => (ns && ns > 0 ? Math.max(1, Math.round(ns / NS_PER_MS)) : 0);

/**
 * Merges the container's override into the image's HEALTHCHECK the way Docker does: an empty test or
 * a 0 duration/retries inherits the image's value; `['NONE']` (from either, the container first)
 * means no check. Null when there is nothing to run.
 */
export function resolveHealthcheck(image: HealthConfig | undefined, override: HealthcheckSpec | undefined): ResolvedHealthcheck | null {
  const test = override?.test?.length ? override.test : (image?.Test ?? []);
  if (!test.length || test[0] === 'NONE') return null;
  if ((test[0] !== 'CMD' && test[0] !== 'CMD-SHELL') || test.length < 2) return null;
  const pick = (own: number | undefined, fromImage: number, fallback: number) => (own && own > 0 ? own : fromImage > 0 ? fromImage : fallback);
  return {
    test: [...test],
    intervalMs: pick(override?.intervalMs, fromNs(image?.Interval), HEALTH_DEFAULTS.intervalMs),
    timeoutMs: pick(override?.timeoutMs, fromNs(image?.Timeout), HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: pick(override?.startPeriodMs, fromNs(image?.StartPeriod), HEALTH_DEFAULTS.startPeriodMs),
    retries: pick(override?.retries, image?.Retries ?? 0, HEALTH_DEFAULTS.retries),
  };
}

/** The argv a probe execs: CMD-SHELL runs through the container's /bin/sh, as Docker does. */
export function probeArgs(test: string[]): string[] {
  return test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test.slice(1);
}
