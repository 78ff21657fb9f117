/** Runs a round every `seconds` (0: never) and on demand, never two at once in this process. */
export class PeriodicRound {
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly work: () => Promise<void>) {}

  start(seconds: number): void {
    if (!seconds) return;
    this.timer = setInterval(() => void this.run(), seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round now; returns at once when one is already running. */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.work();
    } finally {
      this.running = false;
    }
  }
}
