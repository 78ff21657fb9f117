import type { CatalogImage } from '../images/image-catalog';

/** An image as Docker's `/images/json` (and `/system/df`, with its container count) shows it. */
export function toDockerImage(image: CatalogImage, containers = -1) {
  return {
    Id: image.id,
    ParentId: '',
    RepoTags: image.repoTags,
    RepoDigests: image.repoDigests,
    Created: image.config.created ? Math.floor(Date.parse(image.config.created) / 1000) : 0,
    Size: image.size,
    VirtualSize: image.size,
    SharedSize: -1,
    Labels: image.config.config?.Labels ?? {},
    Containers: containers,
  };
}
