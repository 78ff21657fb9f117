import { Injectable } from '@nestjs/common';
import { MuelleError } from '@muelle/contracts';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService } from './containers.service';

/** States `container prune` removes, as Docker's: everything that is not running, paused or restarting. */
const PRUNABLE = ['created', 'exited', 'dead', 'lost'] as const;
/** At most this many containers per prune, so one request stays bounded (Docker has no bound; run it again). */
const MAX_PRUNED = 5000;

/** `docker container prune` / `muelle container prune`: the caller's stopped containers, in its team scope. */
@Injectable()
export class ContainerPruner {
  constructor(private readonly containers: ContainersService) {}

  /** Each removal goes through `ContainersService.remove`: the same `decide()` check and audit entry as `rm`. */
  async prune(principal: RequestPrincipal, filters: { label: string[] }): Promise<{ removed: string[] }> {
    const candidates: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.containers.list(principal, { all: true, limit: 1000, cursor, state: [...PRUNABLE], label: filters.label });
      candidates.push(...page.items.map((c) => c.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor && candidates.length < MAX_PRUNED);
    const removed: string[] = [];
    for (const id of candidates.slice(0, MAX_PRUNED)) {
      try {
        await this.containers.remove(principal, id, false);
        removed.push(id);
      } catch (error) {
        // Started again since the listing (CONFLICT) or removed by someone else meanwhile (NOT_FOUND):
        // prune skips it, as Docker skips running containers. A refusal (FORBIDDEN) reaches the caller.
        if (error instanceof MuelleError && (error.code === 'CONFLICT' || error.code === 'NOT_FOUND')) continue;
        throw error;
      }
    }
    return { removed };
  }
}
