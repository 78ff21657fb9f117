import { Inject, Injectable } from '@nestjs/common';
import { ContainerSpec, HostRecord, HostUsage, MuelleError, UnavailableError } from '@muelle/contracts';
import { LOGGER, ServiceMetrics } from '@muelle/service-kit';
import { Counter, Histogram } from 'prom-client';
import type { Logger } from 'pino';
import { Cluster, SerialQueue } from '../hosts/cluster';
import { mainRejection, placeContainer, Rejection, withPlacement } from './scheduler';

/** Decisions retried from fresh usage before the caller is told to try again. */
const MAX_ATTEMPTS = 40;

export type Placed<T> = { host: HostRecord; result: T } | { host: null; rejections: Rejection[] };
/** One container's place in a `placeAll`: its host, or why none fits. */
export type Decision = { host: HostRecord } | { host: null; rejections: Rejection[] };
/** Records several decisions at one placement generation (in one metadata transaction). */
export type CommitAll<T> = (decisions: Decision[], placementGeneration: number) => Promise<T>;

/** A CONFLICT from metadata meaning "placed by someone else since your snapshot: decide again". */
export function isStalePlacement(error: unknown): boolean {
  return error instanceof MuelleError && error.code === 'CONFLICT' && (error.details as { stalePlacement?: unknown } | undefined)?.stalePlacement === true;
}

/**
 * Several placements (an evacuation pass) decided from one usage snapshot: each placement this run
 * records is added to it (`withPlacement`) and the generation moves on by one per commit, exactly
 * as metadata's does when that commit is accepted. Any other placement since makes the next commit
 * stale, and the run reads a fresh snapshot then. Moving 134 containers off a down host at 20,000
 * records read one snapshot per move: ~2.3 s of a 5.8 s pass (tools/bench/api/README.md).
 */
export class PlacementRun {
  hosts?: HostRecord[];
  view?: { usages: HostUsage[]; placementGeneration: number };
  /** A refusal from an older view is checked once against fresh hosts and usage (removals do not bump the generation). */
  recheckedRefusal = false;
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
  async place<T>(
    spec: ContainerSpec,
    commit: (host: HostRecord, placementGeneration: number) => Promise<T>,
    options: { excludeHost?: string; run?: PlacementRun } = {},
  ): Promise<Placed<T>> {
    const { decisions, result } = await this.placeAll([spec], (decided, generation) => commit(decided[0].host!, generation), options);
    return decisions[0].host ? { host: decisions[0].host, result: result as T } : decisions[0];
  }

  /**
   * Chooses hosts for `specs` together, each decision counting the ones before it, and records those
   * that found a host with one `commit` (called only when at least one did). A stale commit decides
   * them all again from fresh usage.
   */
  placeAll<T>(specs: ContainerSpec[], commit: CommitAll<T>, options: { excludeHost?: string; run?: PlacementRun } = {}): Promise<{ decisions: Decision[]; result?: T }> {
    return this.local.run(async () => {
      const stop = this.duration.startTimer();
      try {
        return await this.decide(specs, commit, options.excludeHost, options.run ?? new PlacementRun());
      } finally {
        stop();
      }
    });
  }

  private async decide<T>(specs: ContainerSpec[], commit: CommitAll<T>, excludeHost: string | undefined, run: PlacementRun): Promise<{ decisions: Decision[]; result?: T }> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const hosts = (run.hosts ??= (await this.cluster.hosts()).filter((h) => h.id !== excludeHost));
      const fresh = !run.view;
      const view = (run.view ??= await this.freshUsage(excludeHost));
      let usages = view.usages;
      const decisions = specs.map((spec): Decision => {
        const placement = placeContainer(spec, hosts, usages);
        if (placement.hostId === null) return { host: null, rejections: placement.rejections };
        usages = withPlacement(usages, placement.hostId, spec);
        return { host: hosts.find((h) => h.id === placement.hostId)! };
      });
      const refused = decisions.filter((d): d is Extract<Decision, { host: null }> => !d.host);
      if (refused.length && !fresh && !run.recheckedRefusal) {
        run.recheckedRefusal = true;
        run.hosts = run.view = undefined;
        continue;
      }
      for (const refusal of refused) {
        this.decisions.inc({ result: 'refused' });
        this.refusals.inc({ reason: mainRejection(refusal.rejections) });
      }
      if (refused.length === decisions.length) return { decisions };
      try {
        const result = await commit(decisions, view.placementGeneration);
        run.view = { usages, placementGeneration: view.placementGeneration + 1 };
        this.decisions.inc({ result: 'placed' }, decisions.length - refused.length);
        return { decisions, result };
      } catch (error) {
        // Any other failure leaves the view as it was: had the commit been recorded after all, its
        // generation bump makes the next commit stale, so the view is never trusted past metadata.
        if (!isStalePlacement(error)) throw error;
        run.view = undefined;
        this.decisions.inc({ result: 'stale' });
        // A little random wait, growing, so two replicas that keep colliding drift apart.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt));
      }
    }
    this.logger.warn({ attempts: MAX_ATTEMPTS }, 'placement kept colliding with other api replicas');
    throw new UnavailableError('the scheduler is busy (placements kept colliding with other api replicas); try again');
  }

  private async freshUsage(excludeHost: string | undefined): Promise<NonNullable<PlacementRun['view']>> {
    const snapshot = await this.cluster.usageSnapshot();
    return { usages: snapshot.hosts.filter((u) => u.hostId !== excludeHost), placementGeneration: snapshot.placementGeneration };
  }
}
