import { ConflictError, ContainerSpec, HostRecord, HostUsage } from '@muelle/contracts';
import type { Cluster } from '../../hosts/cluster';

// Shared by the placer and container-moves unit tests.
export const GiB = 1024 ** 3;
export const host = (id: string, memoryBytes = 2 * GiB, state: HostRecord['state'] = 'ready'): HostRecord => ({
  id,
  address: '10.0.0.1',
  capacity: { cpus: 4, memoryBytes, diskBytes: 100 * GiB },
  labels: {},
  state,
  cordoned: false,
  agentVersion: 't',
  registeredAt: '2026-01-01T00:00:00.000Z',
  lastHeartbeatAt: '2026-01-01T00:00:00.000Z',
  notReady: null,
});
export const spec = (extra: object = {}) => ContainerSpec.parse({ image: 'app', resources: { memoryBytes: GiB }, ...extra });

/** Metadata as the placer sees it: records, usage summed from them, and the placement generation guard. */
export class FakePlacementMetadata {
  records = new Map<string, { hostId: string; spec: ContainerSpec }>();
  generation = 7;
  snapshots = 0;
  constructor(readonly hosts: HostRecord[]) {}

  cluster(): Cluster {
    return { hosts: async () => this.hosts, usageSnapshot: async () => this.usage() } as unknown as Cluster;
  }

  usage(): { hosts: HostUsage[]; placementGeneration: number } {
    this.snapshots++;
    const byHost = new Map<string, HostUsage>();
    for (const { hostId, spec } of this.records.values()) {
      const u = byHost.get(hostId) ?? { hostId, containers: 0, reservedMemoryBytes: 0, reservedCpus: 0, usedPorts: [], services: {} };
      u.containers++;
      u.reservedMemoryBytes += spec.resources.memoryBytes ?? 0;
      u.usedPorts.push(...spec.ports.filter((p) => p.hostPort).map((p) => `${p.hostIp}:${p.hostPort}/${p.protocol}`));
      byHost.set(hostId, u);
    }
    return { hosts: [...byHost.values()], placementGeneration: this.generation };
  }

  /** `reassignContainer` with a generation: refused as stale when anything was placed since. */
  async reassign(id: string, hostId: string, generation: number): Promise<void> {
    if (generation !== this.generation) throw new ConflictError('stale', { stalePlacement: true });
    this.generation++;
    this.records.set(id, { ...this.records.get(id)!, hostId });
  }

  /** `reassignContainers`: one generation check for all; a container no longer on its host is skipped. */
  async reassignMany(moves: Array<{ id: string; hostId: string; fromHostId: string }>, generation: number): Promise<{ moved: string[]; skipped: string[] }> {
    if (generation !== this.generation) throw new ConflictError('stale', { stalePlacement: true });
    this.generation++;
    const moved: string[] = [];
    const skipped: string[] = [];
    for (const move of moves) {
      const record = this.records.get(move.id);
      if (record?.hostId !== move.fromHostId) {
        skipped.push(move.id);
        continue;
      }
      this.records.set(move.id, { ...record, hostId: move.hostId });
      moved.push(move.id);
    }
    return { moved, skipped };
  }

  reservedOn(hostId: string): number {
    return [...this.records.values()].filter((r) => r.hostId === hostId).reduce((sum, r) => sum + (r.spec.resources.memoryBytes ?? 0), 0);
  }
}

