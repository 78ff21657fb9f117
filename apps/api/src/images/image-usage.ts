import { Injectable } from '@nestjs/common';
import { ContainerRecord, MuelleError } from '@muelle/contracts';
import { parseReference } from '@muelle/oci';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService } from '../containers/containers.service';
import { RepositoryAccess } from '../repositories/repository-access';
import { CatalogImage, ImageCatalog } from './image-catalog';
import { ImagesService } from './images.service';

/** At most this many images per prune, so one request stays bounded (run it again for more). */
const MAX_PRUNED = 1000;
const PAGE = 1000;

export interface ImageUse {
  image: CatalogImage;
  /** Containers (any state) the caller sees that were made from it. */
  containers: number;
}

/** An image's `label=k` / `label=k=v` filter, on its config's labels (Docker's). */
export function imageHasLabel(image: CatalogImage, spec: string): boolean {
  const labels = image.config.config?.Labels ?? {};
  const at = spec.indexOf('=');
  return at < 0 ? spec in labels : labels[spec.slice(0, at)] === spec.slice(at + 1);
}

/**
 * What the caller's images take and which are in use — `docker system df`, `muelle system df` —
 * and `image prune`: the caller's images no container uses, removed through the same `rmi` path
 * (its `decide()` check, audit entry and event).
 */
@Injectable()
export class ImageUsage {
  constructor(
    private readonly catalog: ImageCatalog,
    private readonly images: ImagesService,
    private readonly containers: ContainersService,
    private readonly access: RepositoryAccess,
  ) {}

  /** Every image the caller may read with the number of its containers, and those containers. */
  async usage(principal: RequestPrincipal): Promise<{ images: ImageUse[]; containers: ContainerRecord[] }> {
    const [images, containers] = await Promise.all([this.catalog.list(principal), this.allContainers(principal)]);
    return { images: images.map((image) => ({ image, containers: containers.filter((c) => this.uses(c, image)).length })), containers };
  }

  /**
   * Removes the caller's unused images — dangling ones (no name, e.g. builds without `-t`), or
   * with `all` every unused one — that carry every `label` given. Images of repositories the caller
   * may not delete (shared ones, for a member) are left alone, not refused.
   */
  async prune(principal: RequestPrincipal, options: { all: boolean; label: string[] }): Promise<{ deleted: Array<{ Untagged: string } | { Deleted: string }>; spaceReclaimed: number }> {
    const { images } = await this.usage(principal);
    const deleted: Array<{ Untagged: string } | { Deleted: string }> = [];
    let spaceReclaimed = 0;
    const candidates = images.filter(({ image, containers }) => containers === 0 && (options.all || image.repoTags.length === 0) && options.label.every((l) => imageHasLabel(image, l)));
    for (const { image } of candidates.slice(0, MAX_PRUNED)) {
      if (!(await this.deletable(principal, image))) continue;
      try {
        const result = await this.images.remove(principal, image.id, { hosts: false, force: true });
        deleted.push(...result.untagged.map((name) => ({ Untagged: name })), ...(result.id ? [{ Deleted: result.id }] : []));
        spaceReclaimed += image.size;
      } catch (error) {
        // Removed by someone else since the listing: prune skips it, as Docker's does.
        if (error instanceof MuelleError && error.code === 'NOT_FOUND') continue;
        throw error;
      }
    }
    return { deleted, spaceReclaimed };
  }

  private async deletable(principal: RequestPrincipal, image: CatalogImage): Promise<boolean> {
    const repositories = new Set(image.refs.map((ref) => parseReference(ref, this.catalog.registry).repository));
    for (const repository of repositories) if (!(await this.access.decide(principal, 'delete', repository)).allowed) return false;
    return true;
  }

  private uses(container: ContainerRecord, image: CatalogImage): boolean {
    if (container.imageDigest && (container.imageDigest === image.manifestDigest || container.imageDigest === image.id)) return true;
    return image.refs.includes(container.image) || image.repoTags.includes(container.image);
  }

  private async allContainers(principal: RequestPrincipal): Promise<ContainerRecord[]> {
    const records: ContainerRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.containers.list(principal, { all: true, limit: PAGE, cursor, state: undefined, host: undefined, name: undefined, label: undefined });
      records.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return records;
  }
}
