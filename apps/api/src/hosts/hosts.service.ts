import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { ContainerRecord, getHost, HostRecord, HostUsage, listContainers, listHosts, setHostCordoned } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { RequestPrincipal, requireAdmin } from '../auth/principal';
import { EventHub } from '../events/event-hub';
import { Cluster } from './cluster';
import { ContainerMoves } from '../containers/container-moves';
import { PlacementRun } from '../scheduling/placer';

export interface HostView extends HostRecord {
  usage: Omit<HostUsage, 'hostId'>;
}

const noUsage = {
  containers: 0,
  reservedMemoryBytes: 0,
  reservedCpus: 0,
  usedPorts: [],
  services: {},
};
export const isRestartable = (record: ContainerRecord) => record.spec.restartPolicy.name !== 'no';

@Injectable()
export class HostsService {
  constructor(
    private readonly bus: BusClient,
    private readonly cluster: Cluster,
    private readonly moves: ContainerMoves,
    private readonly audit: AuditLog,
    private readonly hub: EventHub,
  ) {}

  async list(limit: number, cursor?: string): Promise<{ items: HostView[]; nextCursor: string | null }> {
    const [page, usages] = await Promise.all([this.bus.request(listHosts, { limit, cursor }), this.cluster.usages()]);
    return {
      items: page.items.map((host) => withUsage(host, usages)),
      nextCursor: page.nextCursor,
    };
  }

  async inspect(id: string): Promise<HostView> {
    const [host, usages] = await Promise.all([this.bus.request(getHost, { id }), this.cluster.usages()]);
    return withUsage(host, usages);
  }

  async setCordoned(principal: RequestPrincipal, id: string, cordoned: boolean): Promise<HostRecord> {
    requireAdmin(principal, cordoned ? 'cordoning a host' : 'uncordoning a host');
    const host = await this.bus.request(setHostCordoned, { id, cordoned });
    await this.audit.record(principal, cordoned ? 'host.cordon' : 'host.uncordon', `host:${id}`);
    this.hub.publish({
      type: 'host',
      action: cordoned ? 'cordon' : 'uncordon',
      id,
      teamId: null,
      attributes: { state: host.state },
    });
    return host;
  }

  /** Cordons the host, then moves every container with a restart policy to other hosts. */
  async drain(principal: RequestPrincipal, id: string) {
    requireAdmin(principal, 'draining a host');
    await this.setCordoned(principal, id, true);
    const moved: Array<{ id: string; name: string; to: string }> = [];
    const stayed: Array<{ id: string; name: string; reason: string }> = [];
    const run = new PlacementRun();
    for (const record of await this.containersOn(id)) {
      if (!isRestartable(record)) {
        stayed.push({
          id: record.id,
          name: record.name,
          reason: 'restart policy "no"',
        });
        continue;
      }
      try {
        const to = await this.moves.move(record, id, 'drain', run);
        if (to) moved.push({ id: record.id, name: record.name, to });
        else
          stayed.push({
            id: record.id,
            name: record.name,
            reason: 'no other host fits',
          });
      } catch (error) {
        stayed.push({
          id: record.id,
          name: record.name,
          reason: (error as Error).message,
        });
      }
    }
    await this.audit.record(principal, 'host.drain', `host:${id}`, {
      moved: moved.length,
      stayed: stayed.length,
    });
    this.hub.publish({
      type: 'host',
      action: 'drain',
      id,
      teamId: null,
      attributes: { moved: moved.length, stayed: stayed.length },
    });
    return { host: id, moved, stayed };
  }

  /** Live containers recorded on a host (every team). */
  async containersOn(hostId: string): Promise<ContainerRecord[]> {
    const all: ContainerRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bus.request(listContainers, {
        all: true,
        limit: 1000,
        cursor,
        filters: {
          hostId,
          state: ['created', 'running', 'restarting', 'paused'],
        },
      });
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  }
}

function withUsage(host: HostRecord, usages: HostUsage[]): HostView {
  const found = usages.find((u) => u.hostId === host.id);
  const { hostId: _ignored, ...usage } = found ?? {
    hostId: host.id,
    ...noUsage,
  };
  return { ...host, usage };
}
