import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { getRepository, MuelleError, NotFoundError, RepositoryRecord, setRepositoryAnonymousPull } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { ownsRepository, RequestPrincipal, requireAdmin } from '../auth/principal';

/** What `PATCH /v1/repositories/{name}` may change. */
export interface RepositoryChanges {
  anonymousPull: boolean;
}

/**
 * A repository's registry settings (today: whether anyone may pull it without credentials).
 * Reading follows tenancy (members see their team's repositories, others answer 404); changing
 * needs the admin role, because opening a repository to anonymous pulls publishes its images.
 */
@Injectable()
export class RepositoriesService {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
  ) {}

  async get(principal: RequestPrincipal, name: string): Promise<RepositoryRecord> {
    if (!ownsRepository(principal, name)) throw noSuchRepository(name);
    return this.read(name);
  }

  /**
   * Only repositories that exist (something was pushed) can be changed: the bus contract would
   * create a missing one, and a typo must not make an empty public repository appear.
   */
  async update(principal: RequestPrincipal, name: string, changes: RepositoryChanges): Promise<RepositoryRecord> {
    requireAdmin(principal, "changing a repository's settings");
    const before = await this.read(name);
    const after = await this.bus.request(setRepositoryAnonymousPull, { name, anonymousPull: changes.anonymousPull });
    await this.audit.record(principal, 'repository.update', `repository:${name}`, {
      anonymousPull: after.anonymousPull,
      previous: { anonymousPull: before.anonymousPull },
    });
    return after;
  }

  private async read(name: string): Promise<RepositoryRecord> {
    try {
      return await this.bus.request(getRepository, { name });
    } catch (error) {
      if (error instanceof MuelleError && error.code === 'NOT_FOUND') throw noSuchRepository(name);
      throw error;
    }
  }
}

const noSuchRepository = (name: string) => new NotFoundError(`no such repository: ${name}`);
