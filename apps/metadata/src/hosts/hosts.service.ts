import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { HostCapacity, HostRecord, NotFoundError, RegisterHostRequest } from '@muelle/contracts';
import { LessThan, MoreThan, Repository } from 'typeorm';
import { HostEntity } from '../entities';

@Injectable()
export class HostsService {
  constructor(@InjectRepository(HostEntity) private readonly hosts: Repository<HostEntity>) {}

  /** An agent (re)announces its host; registering again updates it and marks it ready. */
  async register(request: RegisterHostRequest): Promise<HostRecord> {
    const now = new Date();
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
    await this.hosts.update({ id }, { lastHeartbeatAt: at, state: 'ready', ...(capacity ? { capacity } : {}) });
  }

  /** Marks hosts silent for longer than `seconds` as down; returns their ids. */
  async markSilentHostsDown(seconds: number): Promise<string[]> {
    const cutoff = new Date(Date.now() - seconds * 1000);
    const silent = await this.hosts.find({ where: { state: 'ready', lastHeartbeatAt: LessThan(cutoff) }, select: { id: true } });
    if (!silent.length) return [];
    await this.hosts.update(
      silent.map((h) => h.id),
      { state: 'down' },
    );
    return silent.map((h) => h.id);
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
