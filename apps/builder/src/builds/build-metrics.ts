import type { BuildRecord } from '@muelle/contracts';
import type { ServiceMetrics } from '@muelle/service-kit';
import { Counter, Histogram } from 'prom-client';

/** Builds by result (succeeded, failed, cancelled) and how long they took; no per-build labels. */
export class BuildMetrics {
  private readonly builds: Counter<'result'>;
  private readonly duration: Histogram<'result'>;

  constructor(metrics: ServiceMetrics) {
    this.builds = new Counter({ name: 'muelle_builds_total', help: 'Finished builds by result', labelNames: ['result'], registers: [metrics.registry] });
    this.duration = new Histogram({
      name: 'muelle_build_duration_seconds',
      help: 'Build time from start to its outcome (pushes included)',
      labelNames: ['result'],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [metrics.registry],
    });
  }

  finished(record: BuildRecord): void {
    const result = record.state;
    this.builds.inc({ result });
    if (record.finishedAt) this.duration.observe({ result }, Math.max(0, Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000);
  }
}
