import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { HostCapacity, HostRecord, NotFoundError, RegisterHostRequest } from '@muelle/contracts';
import { LessThan, MoreThan, Repository } from 'typeorm';
import { HostEntity } from '../entities';
import { EventsService } from '../events/events.service';

/**
 * Host records and their liveness. A change of a host's state (ready → down when its heartbeats
 * stop, down → ready when one comes again) goes into the event history here, once: the UPDATE that
 * makes the change returns the row only to the one caller whose statement changed it, however many
 * metadata replicas sweep at once (the api replicas only deliver it live to their own subscribers).
 */
@Injectable()
export class HostsService {
  constructor(
    @InjectRepository(HostEntity) private readonly hosts: Repository<HostEntity>,
    private readonly events: EventsService,
  ) {}

  /** An agent (re)announces its host; registering again updates it and marks it ready. */
  async register(request: RegisterHostRequest): Promise<HostRecord> {
    const now = new Date();
    await this.markUpIfDown(request.id, now);
    await this.hosts
      .createQueryBuilder()
      .insert()
      .values({ ...request, state: 'ready', cordoned: false, registeredAt: now, lastHeartbeatAt: now })
      .orUpdate(['address', 'capacity', 'labels', 'agent_version', 'state', 'last_heartbeat_at', 'not_ready', 'underlay_address'], ['id'])
      .execute();
    return this.get(request.id);
  }

  /** A heartbeat may carry fresh capacity (free disk changes while the host runs). */
  async heartbeat(id: string, at: Date, capacity?: HostCapacity): Promise<void> {
    await this.markUpIfDown(id, at);
    await this.hosts.update({ id }, { lastHeartbeatAt: at, state: 'ready', ...(capacity ? { capacity } : {}) });
  }

  /** Marks hosts silent for longer than `seconds` as down; returns their ids. */
  async markSilentHostsDown(seconds: number): Promise<string[]> {
    const at = new Date();
    const cutoff = new Date(at.getTime() - seconds * 1000);
    const changed = await this.hosts
      .createQueryBuilder()
      .update()
      .set({ state: 'down' })
      .where({ state: 'ready', lastHeartbeatAt: LessThan(cutoff) })
      .returning(['id', 'address'])
      .execute();
    const down = (changed.raw as Array<{ id: string; address: string }>) ?? [];
    for (const host of down) await this.recordTransition(host, 'down', at);
    return down.map((h) => h.id);
  }

  /** down → ready for a host that speaks again; only the statement that changed it records the event. */
  private async markUpIfDown(id: string, at: Date): Promise<void> {
    const changed = await this.hosts.createQueryBuilder().update().set({ state: 'ready', lastHeartbeatAt: at }).where({ id, state: 'down' }).returning(['id', 'address']).execute();
    for (const host of (changed.raw as Array<{ id: string; address: string }>) ?? []) await this.recordTransition(host, 'ready', at);
  }

  /** The same event the api's reconciler delivers live (`type: host`, the new state as action). */
  private recordTransition(host: { id: string; address: string }, state: 'ready' | 'down', at: Date) {
    return this.events.record({ type: 'host', action: state, id: host.id, teamId: null, at: at.toISOString(), attributes: { address: host.address } });
  }

  async get(id: string): Promise<HostRecord> {
    const host = await this.hosts.findOneBy({ id });
    if (!host) throw new NotFoundError(`host ${id} not found`);
    return toRecord(host);
  }

  async list(limit: number, cursor?: string): Promise<{ items: HostRecord[]; nextCursor: string | null }> {
    const rows = await this.hosts.find({ where: cursor ? { id: MoreThan(cursor) } : {}, order: { id: 'ASC' }, take: limit + 1 });
    const items = rows.slice(0, limit).map(toRecord);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1].id : null };
  }
}

function toRecord(host: HostEntity): HostRecord {
  return {
    id: host.id,
    address: host.address,
    capacity: host.capacity,
    labels: host.labels,
    state: host.state,
    cordoned: host.cordoned,
    agentVersion: host.agentVersion,
    registeredAt: host.registeredAt.toISOString(),
    lastHeartbeatAt: host.lastHeartbeatAt.toISOString(),
    notReady: host.notReady,
    underlayAddress: host.underlayAddress,
  };
}
