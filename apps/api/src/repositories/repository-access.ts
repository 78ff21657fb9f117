import { Inject, Injectable } from '@nestjs/common';
import { Action, decide, decideRepository, Decision, enforce, RefusalWording } from '@muelle/authz';
import { BusClient } from '@muelle/bus';
import { getRepository, MuelleError, Principal } from '@muelle/contracts';
import { parseReference } from '@muelle/oci';
import { subjectOf } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';

/** A page of `listCatalog`: names plus which of them are shared or anonymously pullable. */
export interface CatalogPage {
  repositories: string[];
  shared?: string[];
  anonymousPull?: string[];
}

/**
 * `decide()` for repositories of Muelle's registry, with the settings that widen who sees a
 * repository (admin-marked `shared`, `anonymousPull`) read from metadata when they matter.
 * Every api path that names a repository (`/v1` images, builds, containers, the Docker API) asks here.
 */
@Injectable()
export class RepositoryAccess {
  constructor(
    private readonly bus: BusClient,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  decide(principal: Principal, action: Action, name: string): Promise<Decision> {
    return decideRepository(subjectOf(principal), action, name, (repository) => this.settings(repository));
  }

  async require(principal: Principal, action: Action, name: string, wording: RefusalWording): Promise<void> {
    enforce(await this.decide(principal, action, name), wording);
  }

  /**
   * For an image a container will run (a normalized reference): the caller must be allowed to
   * pull its repository of Muelle's registry. Other registries decide for themselves when the
   * agent pulls with the caller's credentials.
   */
  async requireImagePull(principal: Principal, image: string, field: string): Promise<void> {
    const ref = parseReference(image, this.config.MUELLE_REGISTRY_ADDRESS);
    if (ref.registry !== this.config.MUELLE_REGISTRY_ADDRESS) return;
    await this.require(principal, 'pull', ref.repository, { notFound: `no such image: ${image}`, field });
  }

  /** The names of a catalog page the caller may pull (the others are hidden, not refused). */
  pullable(principal: Principal, page: CatalogPage): string[] {
    const subject = subjectOf(principal);
    const shared = new Set(page.shared ?? []);
    const open = new Set(page.anonymousPull ?? []);
    return page.repositories.filter((name) => decide(subject, 'pull', { kind: 'repository', name, shared: shared.has(name), anonymousPull: open.has(name) }).allowed);
  }

  private async settings(name: string) {
    try {
      const record = await this.bus.request(getRepository, { name });
      return { shared: record.shared, anonymousPull: record.anonymousPull };
    } catch (error) {
      // A repository nothing was pushed to has no settings: the decision without them stands.
      if (error instanceof MuelleError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }
}
