import { Inject, Injectable } from '@nestjs/common';
import { ContainerSpec, HostRecord, MuelleError, UnavailableError } from '@muelle/contracts';
import { LOGGER, ServiceMetrics } from '@muelle/service-kit';
import { Counter, Histogram } from 'prom-client';
import type { Logger } from 'pino';
import { Cluster, SerialQueue } from '../hosts/cluster';
import { mainRejection, placeContainer, Rejection } from './scheduler';

/** Decisions retried from fresh usage before the caller is told to try again. */
const MAX_ATTEMPTS = 40;

export type Placed<T> = { host: HostRecord; result: T } | { host: null; rejections: Rejection[] };

/** A CONFLICT from metadata meaning "placed by someone else since your snapshot: decide again". */
export function isStalePlacement(error: unknown): boolean {
  return error instanceof MuelleError && error.code === 'CONFLICT' && (error.details as { stalePlacement?: unknown } | undefined)?.stalePlacement === true;
}

/**
 * Places containers so that several api replicas behave as one: each decision is taken from a
 * usage snapshot at a placement generation and recorded by metadata only if that generation is
 * still current (one row lock there orders every replica's placements); a stale decision is taken
 * again from fresh usage. Within one replica decisions queue, so replicas only race each other.
 */
@Injectable()
export class Placer {
  private readonly local = new SerialQueue();
  private readonly decisions: Counter<'result'>;
  private readonly refusals: Counter<'reason'>;
  private readonly duration: Histogram;

  constructor(
    private readonly cluster: Cluster,
    metrics: ServiceMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.decisions = new Counter({
      name: 'muelle_scheduler_decisions_total',
      help: 'Placement decisions: placed, refused (no host fits) or stale (another replica placed first; decided again)',
      labelNames: ['result'],
      registers: [metrics.registry],
    });
    this.refusals = new Counter({
      name: 'muelle_scheduler_refusals_total',
      help: 'Placements refused, by what turned most hosts away',
      labelNames: ['reason'],
      registers: [metrics.registry],
    });
    this.duration = new Histogram({
      name: 'muelle_scheduler_placement_duration_seconds',
      help: 'Time from asking for a host to the placement recorded (retries included)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [metrics.registry],
    });
  }

  /**
   * Chooses a host for `spec` (never `excludeHost`) and records the choice with `commit`, which must
   * pass the generation on to metadata. Null host with the rejections when no host fits.
   */
  place<T>(spec: ContainerSpec, commit: (host: HostRecord, placementGeneration: number) => Promise<T>, options: { excludeHost?: string } = {}): Promise<Placed<T>> {
    return this.local.run(async () => {
      const stop = this.duration.startTimer();
      try {
        return await this.decide(spec, commit, options.excludeHost);
      } finally {
        stop();
      }
    });
  }

  private async decide<T>(spec: ContainerSpec, commit: (host: HostRecord, placementGeneration: number) => Promise<T>, excludeHost?: string): Promise<Placed<T>> {
    const hosts = (await this.cluster.hosts()).filter((h) => h.id !== excludeHost);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const snapshot = await this.cluster.usageSnapshot();
      const placement = placeContainer(
        spec,
        hosts,
        snapshot.hosts.filter((u) => u.hostId !== excludeHost),
      );
      if (placement.hostId === null) {
        this.decisions.inc({ result: 'refused' });
        this.refusals.inc({ reason: mainRejection(placement.rejections) });
        return { host: null, rejections: placement.rejections };
      }
      const host = hosts.find((h) => h.id === placement.hostId)!;
      try {
        const result = await commit(host, snapshot.placementGeneration);
        this.decisions.inc({ result: 'placed' });
        return { host, result };
      } catch (error) {
        if (!isStalePlacement(error)) throw error;
        this.decisions.inc({ result: 'stale' });
        // A little random wait, growing, so two replicas that keep colliding drift apart.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt));
      }
    }
    this.logger.warn({ attempts: MAX_ATTEMPTS }, 'placement kept colliding with other api replicas');
    throw new UnavailableError('the scheduler is busy (placements kept colliding with other api replicas); try again');
  }
}
