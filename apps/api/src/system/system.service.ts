import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { collectRegistryGarbage, ReplyOf } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { RequestPrincipal, requireAdmin } from '../auth/principal';

export type PruneReport = { registry: ReplyOf<typeof collectRegistryGarbage> };

@Injectable()
export class SystemService {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
  ) {}

  /**
   * `muelle system prune` (admin): the registry collects now what no tag or manifest references
   * any more — with the default grace of 0 the bytes of an image deleted a moment ago go at once.
   * A push that uploaded its blobs but not yet its manifest can lose them to a zero grace (its
   * manifest is then refused with MANIFEST_BLOB_UNKNOWN and the push must be repeated): pass a grace
   * on a registry that is being pushed to.
   */
  async prune(principal: RequestPrincipal, graceSeconds: number): Promise<PruneReport> {
    requireAdmin(principal, 'pruning the system');
    const registry = await this.bus.request(collectRegistryGarbage, { graceSeconds, untaggedManifests: true });
    await this.audit.record(principal, 'system.prune', 'system', { graceSeconds, ...registry });
    return { registry };
  }
}
