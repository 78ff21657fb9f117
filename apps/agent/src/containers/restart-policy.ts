import { ContainerRecordOnDisk } from './container-record';
import { nextRestartDelay } from './restart-backoff';

/** Whether a container that just exited restarts under its policy (a stop by the user never does). */
export function shouldRestart(record: ContainerRecordOnDisk): boolean {
  const policy = record.spec.restartPolicy;
  const failed = record.exitCode !== 0;
  return (
    !record.stoppedByUser &&
    (policy.name === 'always' ||
      policy.name === 'unless-stopped' ||
      (policy.name === 'on-failure' && failed && (policy.maxRetries === 0 || record.restartCount < policy.maxRetries)))
  );
}

/**
 * Restart timers with Docker's back-off. The back-off step is kept per container apart from
 * restartCount: the count keeps counting (docker inspect shows it), the delay resets.
 */
export class RestartScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly steps = new Map<string, number>();

  /** Runs `restart` after the container's next back-off delay. */
  schedule(record: ContainerRecordOnDisk, restart: () => void): void {
    const { delayMs, nextStep } = nextRestartDelay(this.steps.get(record.id) ?? record.restartCount, record.startedAt, record.finishedAt);
    this.steps.set(record.id, nextStep);
    const timer = setTimeout(() => {
      this.timers.delete(record.id);
      restart();
    }, delayMs);
    this.timers.set(record.id, timer);
  }

  cancel(id: string): void {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
  }

  /** The container is gone: its back-off too. */
  forget(id: string): void {
    this.cancel(id);
    this.steps.delete(id);
  }

  cancelAll(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
