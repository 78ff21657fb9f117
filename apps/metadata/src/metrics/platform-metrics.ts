import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { ServiceMetrics } from '@muelle/service-kit';
import { Gauge } from 'prom-client';
import { Repository } from 'typeorm';
import { ContainersService } from '../containers/containers.service';
import { HostEntity } from '../entities';

/**
 * The platform's state as gauges, read from the database at each scrape (so they are right after a
 * restart and never drift): containers by host and state, each host's capacity and what live
 * containers reserve on it. Labels are hosts and states, both bounded sets. Every metadata replica
 * exports the same figures; dashboards take `max` over replicas.
 */
@Injectable()
export class PlatformMetrics {
  constructor(metrics: ServiceMetrics, @InjectRepository(HostEntity) hosts: Repository<HostEntity>, containers: ContainersService) {
    const registers = [metrics.registry];
    new Gauge({
      name: 'muelle_containers',
      help: 'Recorded containers by host and state',
      labelNames: ['host', 'state'],
      registers,
      async collect() {
        this.reset();
        const rows = await unlessDatabaseAway(metrics, () => containers.countByHostAndState());
        for (const row of rows ?? []) this.set({ host: row.hostId ?? 'none', state: row.state }, row.count);
      },
    });
    const capacity = new Gauge({ name: 'muelle_host_capacity', help: 'What each host offers (resource: cpus, memory_bytes, disk_bytes, disk_free_bytes)', labelNames: ['host', 'resource'], registers });
    const reserved = new Gauge({ name: 'muelle_host_reserved', help: 'What live containers reserve on each host (resource: cpus, memory_bytes)', labelNames: ['host', 'resource'], registers });
    new Gauge({
      name: 'muelle_host_up',
      help: '1 when a host is ready (heartbeating, not cordoned, able to make containers), else 0',
      labelNames: ['host'],
      registers,
      // One scrape reads hosts and usage once and fills the three host gauges.
      async collect() {
        this.reset();
        capacity.reset();
        reserved.reset();
        const read = await unlessDatabaseAway(metrics, () => Promise.all([hosts.find(), containers.usage()]));
        if (!read) return;
        const [rows, usage] = read;
        const byHost = new Map(usage.hosts.map((u) => [u.hostId, u]));
        for (const host of rows) {
          this.set({ host: host.id }, host.state === 'ready' && !host.cordoned && !host.notReady ? 1 : 0);
          capacity.set({ host: host.id, resource: 'cpus' }, host.capacity.cpus);
          capacity.set({ host: host.id, resource: 'memory_bytes' }, host.capacity.memoryBytes);
          capacity.set({ host: host.id, resource: 'disk_bytes' }, host.capacity.diskBytes);
          if (host.capacity.diskFreeBytes !== undefined) capacity.set({ host: host.id, resource: 'disk_free_bytes' }, host.capacity.diskFreeBytes);
          reserved.set({ host: host.id, resource: 'cpus' }, byHost.get(host.id)?.reservedCpus ?? 0);
          reserved.set({ host: host.id, resource: 'memory_bytes' }, byHost.get(host.id)?.reservedMemoryBytes ?? 0);
        }
      },
    });
  }
}

/**
 * A scrape while the database is unreachable shows these gauges empty (and counts the failure in
 * `muelle_errors_total{kind="metrics_collect"}`) instead of failing the whole page, whose process
 * and bus figures are what an operator needs most then.
 */
async function unlessDatabaseAway<T>(metrics: ServiceMetrics, read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch {
    // The database is away (see above): counted, and these gauges stay empty for this scrape.
    metrics.errors.inc({ kind: 'metrics_collect' });
    return null;
  }
}
