import type { ContainerHealth, ContainerHealthChange, HealthStatus } from '@muelle/contracts';
import type { Logger } from 'pino';
import { probeArgs, ResolvedHealthcheck } from './healthcheck-config';
import type { HealthStore } from './health-store';

/** Runs one probe inside the container (the exec path, with the container's isolation). */
export type ProbeRunner = (containerId: string, args: string[], timeoutMs: number) => Promise<{ exitCode: number; output: string }>;

export interface HealthMonitorOptions {
  hostId: string;
  probe: ProbeRunner;
  emit: (change: ContainerHealthChange) => void;
  logger: Logger;
  /** Where each check's state is kept across agent restarts; without one it lives in memory only. */
  store?: HealthStore;
  now?: () => number;
}

/** Docker keeps the last 5 probes (`State.Health.Log`). */
const LOG_LENGTH = 5;

interface Check {
  config: ResolvedHealthcheck;
  status: HealthStatus;
  failingStreak: number;
  log: ContainerHealth['log'];
  startedAtMs: number;
  /** The container start this check belongs to (null: unknown, nothing saved). */
  containerStartedAt: string | null;
  timer?: NodeJS.Timeout;
  /** Bumped at every start and stop, so a probe that outlived its run does not record. */
  generation: number;
  active: boolean;
}

/**
 * Runs each running container's health check every interval and keeps Docker's state machine:
 * `starting` until the first success (failures inside the start period do not count), `healthy`
 * after a success, `unhealthy` after `retries` failures in a row. A status change is emitted
 * (metadata records it; the api turns it into a `health_status` event). The last state stays
 * readable after the container stops, as in Docker; a start begins again at `starting`. With a
 * store, the state (status, failing streak, last probes) is saved after every probe, and a container
 * re-adopted by a restarted agent goes on from it: same start, same state, no new event.
 */
export class HealthMonitor {
  private readonly checks = new Map<string, Check>();
  private readonly now: () => number;

  constructor(private readonly o: HealthMonitorOptions) {
    this.now = o.now ?? Date.now;
  }

  /**
   * The container runs with this check: probes begin one interval from now. `containerStartedAt`
   * tells a new start (state back to `starting`, announced) from the same start seen again, as a
   * restarted agent re-adopting it does (the saved state goes on, nothing announced: metadata has it).
   */
  started(id: string, config: ResolvedHealthcheck, containerStartedAt: string | null = null): void {
    const previous = this.checks.get(id);
    if (previous?.timer) clearTimeout(previous.timer);
    const generation = (previous?.generation ?? 0) + 1;
    const saved = containerStartedAt === null ? undefined : previous?.containerStartedAt === containerStartedAt ? previous : this.o.store?.load(id);
    if (saved && saved.containerStartedAt === containerStartedAt) {
      const check: Check = { config, status: saved.status, failingStreak: saved.failingStreak, log: [...saved.log], startedAtMs: saved.startedAtMs, containerStartedAt, generation, active: true };
      this.checks.set(id, check);
      this.schedule(id, check);
      return;
    }
    const check: Check = { config, status: 'starting', failingStreak: 0, log: [], startedAtMs: this.now(), containerStartedAt, generation, active: true };
    this.checks.set(id, check);
    this.save(id, check);
    this.announce(id, check);
    this.schedule(id, check);
  }

  /** The container stopped: no more probes; the last state stays for inspect. */
  stopped(id: string): void {
    const check = this.checks.get(id);
    if (!check) return;
    if (check.timer) clearTimeout(check.timer);
    check.timer = undefined;
    check.active = false;
    check.generation++;
  }

  /** The container was removed. */
  forget(id: string): void {
    this.stopped(id);
    this.checks.delete(id);
  }

  healthOf(id: string): ContainerHealth | undefined {
    const check = this.checks.get(id);
    if (!check) return undefined;
    return { ...check.config, status: check.status, failingStreak: check.failingStreak, log: [...check.log] };
  }

  close(): void {
    for (const id of [...this.checks.keys()]) this.stopped(id);
  }

  private schedule(id: string, check: Check): void {
    const generation = check.generation;
    check.timer = setTimeout(() => void this.probeOnce(id, check, generation), check.config.intervalMs);
    check.timer.unref();
  }

  private async probeOnce(id: string, check: Check, generation: number): Promise<void> {
    const start = this.now();
    let result: { exitCode: number; output: string };
    try {
      result = await this.o.probe(id, probeArgs(check.config.test), check.config.timeoutMs);
    } catch (error) {
      // The probe could not be started (the container is stopping, the helper failed): a failed probe, as in Docker.
      result = { exitCode: -1, output: (error as Error).message };
    }
    if (generation !== check.generation || !check.active) return;
    const end = this.now();
    check.log.push({ start: new Date(start).toISOString(), end: new Date(end).toISOString(), exitCode: result.exitCode, output: result.output });
    if (check.log.length > LOG_LENGTH) check.log.shift();
    const before = check.status;
    if (result.exitCode === 0) {
      check.failingStreak = 0;
      check.status = 'healthy';
    } else if (!(check.status === 'starting' && start - check.startedAtMs < check.config.startPeriodMs)) {
      check.failingStreak++;
      if (check.failingStreak >= check.config.retries) check.status = 'unhealthy';
    }
    this.save(id, check);
    if (check.status !== before) {
      this.o.logger.info({ id, status: check.status, exitCode: result.exitCode }, 'container health changed');
      this.announce(id, check);
    }
    this.schedule(id, check);
  }

  private save(id: string, check: Check): void {
    if (!this.o.store || check.containerStartedAt === null) return;
    const { status, failingStreak, log, startedAtMs, containerStartedAt } = check;
    this.o.store.save(id, { containerStartedAt, status, failingStreak, log, startedAtMs });
  }

  private announce(id: string, check: Check): void {
    try {
      this.o.emit({ id, hostId: this.o.hostId, status: check.status, failingStreak: check.failingStreak, at: new Date(this.now()).toISOString() });
    } catch (error) {
      this.o.logger.warn({ err: error, id }, 'health event not sent');
    }
  }
}
