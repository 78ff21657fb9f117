import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { agentContracts, collectRegistryGarbage, MuelleError, ReplyOf } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { RequestPrincipal, requireAdmin } from '../auth/principal';
import { ContainerPruner } from '../containers/container-pruner';
import { Cluster } from '../hosts/cluster';

/** What one host's agent freed, or why it could not be asked (a down host is skipped, not an error of the whole prune). */
export type HostPruneReport = { hostId: string; removedImages: number; layersDeleted: number; freedBytes: number } | { hostId: string; skipped: string };

export type PruneReport = {
  containers: { removed: string[] };
  hosts: HostPruneReport[];
  registry: ReplyOf<typeof collectRegistryGarbage>;
};

export interface PruneOptions {
  graceSeconds: number;
  /** Only stopped containers with these labels (`key` or `key=value`), as `container prune --filter label=`. */
  label: string[];
}

@Injectable()
export class SystemService {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
    private readonly pruner: ContainerPruner,
    private readonly cluster: Cluster,
  ) {}

  /**
   * `muelle system prune` (admin), like `docker system prune --all` across the platform: removes
   * every stopped container (each through `rm`'s own `decide()` check and audit entry), then on
   * every ready host the cached images no container uses any more (they are pulled again when
   * needed), then the registry collects what no tag or manifest references — with the default
   * grace of 0 the bytes of an image deleted a moment ago go at once. A push that uploaded its
   * blobs but not yet its manifest can lose them to a zero grace (its manifest is then refused with
   * MANIFEST_BLOB_UNKNOWN and the push must be repeated): pass a grace on a registry being pushed to.
   */
  async prune(principal: RequestPrincipal, options: PruneOptions): Promise<PruneReport> {
    requireAdmin(principal, 'pruning the system');
    const containers = await this.pruner.prune(principal, { label: options.label });
    const hosts = await Promise.all((await this.cluster.hosts()).map((host) => this.pruneHost(host.id, host.state)));
    const registry = await this.bus.request(collectRegistryGarbage, { graceSeconds: options.graceSeconds, untaggedManifests: true });
    await this.audit.record(principal, 'system.prune', 'system', {
      graceSeconds: options.graceSeconds,
      label: options.label,
      containersRemoved: containers.removed.length,
      hosts: hosts.map((h) => ('skipped' in h ? { hostId: h.hostId, skipped: h.skipped } : { hostId: h.hostId, freedBytes: h.freedBytes })),
      ...registry,
    });
    return { containers, hosts, registry };
  }

  private async pruneHost(hostId: string, state: string): Promise<HostPruneReport> {
    if (state !== 'ready') return { hostId, skipped: `host is ${state}` };
    try {
      const reply = await this.bus.request(agentContracts(hostId).pruneImages, {});
      return { hostId, removedImages: reply.removedImages.length, layersDeleted: reply.layersDeleted, freedBytes: reply.freedBytes };
    } catch (error) {
      // A host that cannot prune now (no container runtime, agent unreachable) is reported by name;
      // the other hosts and the registry are still pruned. Anything unexpected fails the request.
      if (error instanceof MuelleError && ['UNAVAILABLE', 'TIMEOUT'].includes(error.code)) return { hostId, skipped: error.message };
      throw error;
    }
  }
}
