import type { Logger } from 'pino';

/** After an event, this long for metadata to record it before it is asked. */
export const EVENT_SETTLE_MS = 300;

/**
 * A pass that follows the platform's record: run at start, every `seconds` after the previous pass
 * ends, and shortly after an event (events close together make one pass). One pass at a time; a
 * request during a pass runs one more after it. A failed pass is logged with `what`, and the next
 * event or tick tries again.
 */
export class ReconcileLoop {
  private timer?: NodeJS.Timeout;
  private eventTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly seconds: number,
    private readonly logger: Logger,
    private readonly what: string,
    /** Work for the periodic ticks only, after their pass (the overlay's clean-up of removed networks). */
    private readonly afterTick?: () => Promise<void>,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      void this.run()
        .then(() => (this.stopped ? undefined : this.afterTick?.()))
        .finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.seconds * 1000);
        this.timer.unref();
      });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.eventTimer);
  }

  /** Something changed somewhere: one pass shortly. */
  soon(): void {
    if (this.stopped || this.eventTimer) return;
    this.eventTimer = setTimeout(() => {
      this.eventTimer = undefined;
      void this.run();
    }, EVENT_SETTLE_MS);
    this.eventTimer.unref();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Settles when no pass is running (at once when none is). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass()
      .catch((error: Error) => this.logger.warn({ err: error }, `${this.what} not reconciled; retrying at the next event or tick`))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.run();
        }
      });
    return this.running;
  }
}
