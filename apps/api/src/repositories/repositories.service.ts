import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { getRepository, MuelleError, NotFoundError, RepositoryRecord, setRepositoryAnonymousPull, setRepositoryShared } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { RequestPrincipal } from '../auth/principal';
import { RepositoryAccess } from './repository-access';

/** What `PATCH /v1/repositories/{name}` may change (at least one of them). */
export interface RepositoryChanges {
  anonymousPull?: boolean;
  shared?: boolean;
}

/**
 * A repository's registry settings: whether anyone may pull it without credentials, and whether
 * every signed-in user may (`shared`, like `library/…`). Reading follows tenancy (`decide()`:
 * another team's repository answers 404); changing needs the admin role, because either setting
 * publishes the repository's images beyond its team.
 */
@Injectable()
export class RepositoriesService {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
    private readonly access: RepositoryAccess,
  ) {}

  async get(principal: RequestPrincipal, name: string): Promise<RepositoryRecord> {
    await this.access.require(principal, 'read', name, { notFound: noSuchRepository(name) });
    return this.read(name);
  }

  /**
   * Only repositories that exist (something was pushed) can be changed: the bus contracts would
   * create a missing one, and a typo must not make an empty public repository appear.
   */
  async update(principal: RequestPrincipal, name: string, changes: RepositoryChanges): Promise<RepositoryRecord> {
    await this.access.require(principal, 'update', name, { notFound: noSuchRepository(name), what: "changing a repository's settings" });
    const before = await this.read(name);
    let after = before;
    if (changes.anonymousPull !== undefined) after = await this.bus.request(setRepositoryAnonymousPull, { name, anonymousPull: changes.anonymousPull });
    if (changes.shared !== undefined) after = await this.bus.request(setRepositoryShared, { name, shared: changes.shared });
    const changed = Object.keys(changes) as Array<keyof RepositoryChanges>;
    await this.audit.record(principal, 'repository.update', `repository:${name}`, {
      ...Object.fromEntries(changed.map((key) => [key, after[key]])),
      previous: Object.fromEntries(changed.map((key) => [key, before[key]])),
    });
    return after;
  }

  private async read(name: string): Promise<RepositoryRecord> {
    try {
      return await this.bus.request(getRepository, { name });
    } catch (error) {
      if (error instanceof MuelleError && error.code === 'NOT_FOUND') throw new NotFoundError(noSuchRepository(name));
      throw error;
    }
  }
}

const noSuchRepository = (name: string) => `no such repository: ${name}`;
