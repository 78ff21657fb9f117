import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { ContainerRecord, ContainerSpec, createToken, getPrincipal, MuelleError, reassignContainer, reassignContainers, RegistryAuth } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/audit-log';
import { SYSTEM_ACTOR } from '../auth/principal';
import { explainNoPlacement } from '../scheduling/scheduler';
import { PlacementRun, Placer } from '../scheduling/placer';
import { ContainersService, OWNER_LABEL } from './containers.service';

const MOVE_GRACE_MS = 60_000;
/** Moves recorded per metadata transaction in `moveAll` (the request takes at most 1,000). */
const MOVES_PER_COMMIT = 500;

export interface MoveOutcome {
  record: ContainerRecord;
  /** The new host; null when no host fits or another replica moved it first. */
  to: string | null;
  /** Why it was recorded on `to` but not made there (later rounds do not retry it: it left the down host). */
  error?: unknown;
}

/** Containers leaving a host that is down or draining, and the copies such a host keeps when it returns. */
@Injectable()
export class ContainerMoves {
  /** Containers being moved (and for a while after): their old host's `dead` event is not a removal. */
  private readonly moving = new Map<string, number>();

  constructor(
    private readonly bus: BusClient,
    private readonly placer: Placer,
    private readonly audit: AuditLog,
    private readonly containers: ContainersService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Moves a container off `fromHost` (down or draining): places it elsewhere, records the move,
   * creates and starts it on the new host acting for its owner, then removes the old copy when
   * that host still answers. Returns the new host, or null when no host fits (it stays put).
   * Moves of one pass share a `run` (one usage snapshot for all of them, see `PlacementRun`).
   */
  async move(record: ContainerRecord, fromHost: string, reason: string, run?: PlacementRun): Promise<string | null> {
    const spec = specOf(record);
    if (spec.placement.hostId === fromHost) return null;
    const placed = await this.placer
      .place(spec, (host, placementGeneration) => this.bus.request(reassignContainer, { id: record.id, hostId: host.id, fromHostId: fromHost, placementGeneration }), {
        excludeHost: fromHost,
        run,
      })
      .catch((error: unknown) => {
        // Another replica's reconciler moved it first: nothing left to do here.
        if (error instanceof MuelleError && error.code === 'CONFLICT' && (error.details as { moved?: boolean } | undefined)?.moved) return null;
        throw error;
      });
    if (placed === null) return null;
    if (placed.host === null) {
      this.logger.warn({ container: record.id, reason: explainNoPlacement(placed.rejections) }, 'container cannot be moved');
      return null;
    }
    await this.makeOnNewHost(record, spec, fromHost, placed.host.id, reason);
    return placed.host.id;
  }

  /**
   * `move` for every container of a pass: placed together and recorded in one metadata transaction
   * per 500 (`reassignContainers`), then made on their new hosts one by one. At 20,000 records the
   * one-by-one `reassignContainer` took 2.4 s of a 3.0 s pass for 134 moves (tools/bench/api/README.md).
   */
  async moveAll(records: ContainerRecord[], fromHost: string, reason: string, run = new PlacementRun()): Promise<MoveOutcome[]> {
    const outcomes: MoveOutcome[] = records.filter((r) => specOf(r).placement.hostId === fromHost).map((record) => ({ record, to: null }));
    const movable = records.filter((r) => specOf(r).placement.hostId !== fromHost);
    for (let at = 0; at < movable.length; at += MOVES_PER_COMMIT) {
      const chunk = movable.slice(at, at + MOVES_PER_COMMIT);
      const specs = chunk.map(specOf);
      const { decisions, result } = await this.placer.placeAll(
        specs,
        (decided, placementGeneration) =>
          this.bus.request(reassignContainers, {
            moves: decided.flatMap((d, i) => (d.host ? [{ id: chunk[i].id, hostId: d.host.id, fromHostId: fromHost }] : [])),
            placementGeneration,
          }),
        { excludeHost: fromHost, run },
      );
      const moved = new Set(result?.moved ?? []); // `skipped`: another replica moved it first
      for (const [i, record] of chunk.entries()) {
        const decision = decisions[i];
        if (!decision.host) this.logger.warn({ container: record.id, reason: explainNoPlacement(decision.rejections) }, 'container cannot be moved');
        if (!decision.host || !moved.has(record.id)) {
          outcomes.push({ record, to: null });
          continue;
        }
        try {
          await this.makeOnNewHost(record, specs[i], fromHost, decision.host.id, reason);
          outcomes.push({ record, to: decision.host.id });
        } catch (error) {
          outcomes.push({ record, to: decision.host.id, error });
        }
      }
    }
    return outcomes;
  }

  /** After the move is recorded: creates and starts it on `target` acting for its owner, removes the old copy when that host answers. */
  private async makeOnNewHost(record: ContainerRecord, spec: ContainerSpec, fromHost: string, target: string, reason: string): Promise<void> {
    this.moving.set(record.id, Number.POSITIVE_INFINITY);
    try {
      const agent = this.containers.agent(target);
      await this.bus.request(agent.create, {
        id: record.id,
        name: record.name,
        spec,
        registryAuth: await this.ownerAuth(record),
        teamId: record.teamId,
      });
      await this.bus.request(agent.start, { id: record.id });
      await this.bus
        .request(this.containers.agent(fromHost).remove, { id: record.id, force: true }, { timeoutMs: 5_000 })
        .catch((error) => this.logger.warn({ err: error, container: record.id, host: fromHost }, 'moved container not removed from its former host'));
    } finally {
      this.moving.set(record.id, Date.now() + MOVE_GRACE_MS);
    }
    await this.audit.record(SYSTEM_ACTOR, 'container.move', `container:${record.id}`, { from: fromHost, to: target, reason });
    this.containers.publish({ ...record, hostId: target }, 'move', {
      from: fromHost,
      reason,
    });
  }

  isMoving(id: string): boolean {
    const until = this.moving.get(id);
    if (until === undefined) return false;
    if (until < Date.now()) this.moving.delete(id);
    return until >= Date.now();
  }

  /** Removes a copy a host should no longer have (it came back after its containers were moved). */
  async removeStaleCopy(hostId: string, id: string): Promise<void> {
    this.moving.set(id, Date.now() + MOVE_GRACE_MS);
    await this.bus.request(this.containers.agent(hostId).remove, { id, force: true });
    await this.audit.record(SYSTEM_ACTOR, 'container.remove-stale', `container:${id}`, { hostId });
  }

  private async ownerAuth(record: ContainerRecord): Promise<RegistryAuth | undefined> {
    const ownerId = record.spec.labels[OWNER_LABEL];
    if (!ownerId) return undefined;
    try {
      const owner = await this.bus.request(getPrincipal, { userId: ownerId });
      const { token } = await this.bus.request(createToken, {
        userId: ownerId,
        name: 'reschedule',
        ttlSeconds: 900,
      });
      return await this.containers.registryTokens.pullAuth({ registryCredentials: { username: owner.user.username, password: token } }, record.spec.image);
    } catch (error) {
      this.logger.warn({ err: error, container: record.id }, 'owner credentials unavailable; pulling anonymously');
      return undefined;
    }
  }
}

function specOf(record: ContainerRecord): ContainerSpec {
  return { ...record.spec, placement: { ...record.spec.placement } };
}
