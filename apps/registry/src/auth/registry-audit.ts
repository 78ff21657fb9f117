import { Inject, Injectable } from '@nestjs/common';
import type { Subject } from '@muelle/authz';
import { BusClient } from '@muelle/bus';
import { recordAudit } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import type { Principal } from './registry-auth.service';

/**
 * Changes made straight through `/v2/` (manifest pushes, deletes) and token requests whose
 * push/delete scope was refused go to the platform's audit log: who, what, which team, outcome.
 * Pulls are not audited (too many, and they change nothing). Entries are written after the
 * answer, off the request's path: a lost line is logged loudly but never fails the request.
 */
@Injectable()
export class RegistryAudit {
  constructor(
    private readonly bus: BusClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** A change that happened (`registry.push`, `registry.delete`). With auth off there is nobody to name: nothing is written. */
  changed(principal: Principal, action: 'registry.push' | 'registry.delete', repository: string, details: Record<string, unknown>): void {
    if (principal.unrestricted) return;
    this.write(principal.subject || 'anonymous', action, repository, { ...details, team: principal.authz?.teamName ?? null, outcome: 'allowed' });
  }

  /** A token request that asked to change a repository and was refused (all or part of it). */
  tokenRefused(subject: Subject | null, actor: string, repository: string, requested: string[], granted: string[]): void {
    this.write(actor, 'registry.token', repository, { requested, granted, team: subject?.teamName ?? null, outcome: 'denied' });
  }

  private write(actor: string, action: string, repository: string, details: Record<string, unknown>): void {
    this.bus.request(recordAudit, { actor, action, target: `repository:${repository}`, details }).catch((error: unknown) => {
      this.logger.error({ err: error, actor, action, repository }, 'audit entry could not be written');
    });
  }
}
