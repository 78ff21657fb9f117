import { InvalidArgumentError } from '@muelle/contracts';
import { formatReference, parseReference, type ImageReference } from '@muelle/oci';

/** A sha256 digest as Muelle stores image ids, manifests and layers. */
export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
/** What may name an image by id: Docker's `sha256:<hex>` or a bare hex prefix of at least 12 characters (`docker images` shows 12). */
const IMAGE_ID_PREFIX = /^(?:sha256:)?([a-f0-9]{12,64})$/;
const SHORT_ID_LENGTH = 12;

/** The hex an image id (prefix) names, or undefined when `text` cannot be an id. */
export function imageIdPrefixOf(text: string): string | undefined {
  return IMAGE_ID_PREFIX.exec(text)?.[1];
}

/**
 * The image an id or a unique id prefix names among `images`; undefined when none does. Several
 * matches are a 400 asking for more characters (Docker answers the same for an ambiguous prefix).
 */
export function findByImageId<T extends { id: string }>(images: readonly T[], text: string): T | undefined {
  const prefix = imageIdPrefixOf(text);
  if (prefix === undefined) return undefined;
  const matches = images.filter((image) => image.id.replace(/^sha256:/, '').startsWith(prefix));
  if (matches.length > 1) throw new InvalidArgumentError(`image id ${text} is ambiguous: ${matches.length} images start with it, use more characters`);
  return matches[0];
}

/** `sha256:<64 hex>` → the 12 characters `docker images` and `muelle images` show. */
export function shortImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, SHORT_ID_LENGTH);
}

/** Docker Hub's spellings; in Muelle they name Muelle's own registry (there is no Docker Hub here). */
const DOCKER_HUB_HOSTS = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

/**
 * An image name as a user types it (`busybox`, `library/busybox:1`, `docker.io/library/busybox`,
 * `host:5000/team/app@sha256:…`) → where it lives. Names of Docker Hub and names without a
 * registry resolve to Muelle's registry; other registries stay as written. A 400 naming `field`
 * when the name breaks the OCI grammar.
 */
export function parseImageName(name: string, registry: string, field = 'image'): ImageReference {
  try {
    const ref = parseReference(name, registry);
    return DOCKER_HUB_HOSTS.includes(ref.registry) ? { ...ref, registry } : ref;
  } catch (error) {
    throw new InvalidArgumentError(`${field}: invalid reference format: ${(error as Error).message}`, { field });
  }
}

/**
 * The repositories of Muelle's registry that `ref` may mean, most likely first: Docker's `busybox`
 * is `library/busybox`, so a one-component name is tried as `library/<name>` and then as itself,
 * and `library/<name>` also as `<name>`. Another registry's name means only itself.
 */
export function localSpellings(ref: ImageReference, registry: string): ImageReference[] {
  if (ref.registry !== registry) return [ref];
  const parts = ref.repository.split('/');
  if (parts.length === 1) return [{ ...ref, repository: `library/${ref.repository}` }, ref];
  if (parts.length === 2 && parts[0] === 'library') return [ref, { ...ref, repository: parts[1] as string }];
  return [ref];
}

/** `busybox:1` for an image of Muelle's registry (Docker's familiar form: registry and `library/` left out). */
export function familiarName(ref: ImageReference, registry: string): string {
  return formatReference(ref, { defaultRegistry: registry }).replace(/^library\//, '');
}

/** Docker's 404 wording (`No such image: x`, which makes the docker CLI pull), with the command that fixes it. */
export function imageNotFoundMessage(name: string): string {
  return `No such image: ${name} (pull it first: muelle pull ${name})`;
}
