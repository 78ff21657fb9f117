import { Inject, Injectable } from '@nestjs/common';
import { hostOptionViolations, subjectFromPrincipal } from '@muelle/authz';
import { BusClient } from '@muelle/bus';
import { admitContainerStart, ContainerRecord, ContainerSpec, EMPTY_TEAM_POLICY, getTeamPolicy, MuelleError, PermissionDeniedError, TeamPolicy } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { RequestPrincipal, teamScope } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';

/** States in which a container holds its team's quota; starting one in any other state is checked. */
const RESERVING = new Set<ContainerRecord['state']>(['created', 'running', 'paused', 'restarting']);

/**
 * What every door's container create passes through before anything is placed: the team policy
 * for host-level options (403 naming the option) and the platform defaults (pids limit). Quotas are
 * checked by metadata when the container is recorded, in the same transaction as the insert.
 */
@Injectable()
export class ContainerAdmission {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  /** The spec to create, with defaults applied; PERMISSION_DENIED naming every option the team may not use. */
  async admit(principal: RequestPrincipal, spec: ContainerSpec): Promise<ContainerSpec> {
    const violations = hostOptionViolations(subjectFromPrincipal(principal), await this.policyOf(principal), spec);
    if (violations.length) {
      await this.audit.record(principal, 'container.create.denied', `team:${principal.teamId}`, { image: spec.image, violations });
      throw new PermissionDeniedError(violations.map((v) => v.message).join('; '), { violations });
    }
    const pidsLimit = spec.resources.pidsLimit ?? (this.config.MUELLE_DEFAULT_PIDS_LIMIT || undefined);
    return { ...spec, resources: { ...spec.resources, pidsLimit } };
  }

  /** A stopped container starting again takes quota again. */
  async admitStart(principal: RequestPrincipal, record: ContainerRecord): Promise<void> {
    if (!record.teamId || RESERVING.has(record.state)) return;
    await this.bus.request(admitContainerStart, { id: record.id }).catch((error: unknown) => this.refusedByQuota(principal, 'container.start.denied', `container:${record.id}`, error));
  }

  /** Audits a quota refusal from metadata (PERMISSION_DENIED) and rethrows whatever failed. */
  async refusedByQuota(principal: RequestPrincipal, action: string, target: string, error: unknown): Promise<never> {
    if (error instanceof MuelleError && error.code === 'PERMISSION_DENIED') await this.audit.record(principal, action, target, { reason: error.message });
    throw error;
  }

  private async policyOf(principal: RequestPrincipal): Promise<TeamPolicy> {
    // Admins are not bound by team policies (the check lets them through), so theirs is never read.
    if (teamScope(principal) === undefined || !principal.teamId) return EMPTY_TEAM_POLICY;
    return (await this.bus.request(getTeamPolicy, { team: principal.teamId })).policy;
  }
}
