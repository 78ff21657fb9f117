import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { listCatalog, NotFoundError } from '@muelle/contracts';
import { type Platform, familiarName, findByImageId, imageIdPrefixOf, imageNotFoundMessage, localSpellings, parseImageName, requireManifest } from '@muelle/images';
import { formatReference, ImageReference, readImageConfigBytes } from '@muelle/oci';
import { createRegistryClient, RegistryClient, registryEndpoint, RegistryNotFoundError } from '@muelle/registry-client';
import { insecureRegistriesOf } from '@muelle/service-kit';
import { RequestPrincipal } from '../auth/principal';
import { RepositoryAccess } from '../repositories/repository-access';
import { API_CONFIG, ApiConfig } from '../config';
import { registryCall } from './registry-errors';

/** One image config blob, the parts Docker shows. */
interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  author?: string;
  config?: {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
    /** The builder's `VOLUME` paths. */
    Volumes?: Record<string, object> | null;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
}

/** An image of Muelle's registry as both CLIs see it: identified by its config digest (Docker's image id). */
export interface CatalogImage {
  /** `sha256:<config digest>`: Docker's image id. */
  id: string;
  /** Names in Docker's familiar form (registry left out), e.g. `busybox:1`. */
  repoTags: string[];
  repoDigests: string[];
  /** Where to find it in Muelle's registry (one of its names). */
  repository: string;
  reference: string;
  manifestDigest: string;
  /** Every name of it in Muelle's registry (`registry/repo:tag`), `<none>` ones included. */
  refs: string[];
  /** Compressed layers plus config. */
  size: number;
  config: ImageConfig;
}

/** Builds without `-t` are stored under this repository (per team), shown as `<none>`. */
export const UNTAGGED_REPOSITORY = 'untagged';
export const untaggedRepository = (principal: RequestPrincipal) => (principal.teamName ? `${principal.teamName}/${UNTAGGED_REPOSITORY}` : UNTAGGED_REPOSITORY);
/** Where a build without `-t` is stored, from either door, so its id can be run or tagged later (listed as `<none>`). */
export const untaggedBuildTag = (principal: RequestPrincipal, registry: string): ImageReference => ({
  registry,
  repository: untaggedRepository(principal),
  tag: `build-${Date.now()}-${randomBytes(3).toString('hex')}`,
});
const isUntaggedRepository = (repository: string) => repository === UNTAGGED_REPOSITORY || repository.endsWith(`/${UNTAGGED_REPOSITORY}`);

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/**
 * Muelle's registry as an image store, for /v1 and the Docker API alike: lists the repositories
 * the caller may read grouped by config digest (the image id), and resolves what users type — a
 * full or short id, `name[:tag]`, `name@digest` — by the rules of `@muelle/images`.
 */
@Injectable()
export class ImageCatalog {
  private readonly configs = new Map<string, ImageConfig>();

  constructor(
    private readonly bus: BusClient,
    private readonly access: RepositoryAccess,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  get registry(): string {
    return this.config.MUELLE_REGISTRY_ADDRESS;
  }

  /** Docker's view: any name, whatever registry it mentions, is looked up in Muelle's registry (where `docker pull` put it). */
  localReference(name: string): ImageReference {
    return { ...parseImageName(name, this.registry), registry: this.registry };
  }

  /**
   * The spelling of `name` that exists in Muelle's registry (`busybox` ≡ `library/busybox` ≡
   * `docker.io/library/busybox`); the most likely one when none does.
   */
  async findLocal(principal: RequestPrincipal, name: string): Promise<ImageReference> {
    return (await this.locate(principal, name)) ?? (localSpellings(this.localReference(name), this.registry)[0] as ImageReference);
  }

  /** The spelling of `name` that exists in Muelle's registry and the caller may pull; null when none does. */
  private async locate(principal: RequestPrincipal, name: string): Promise<ImageReference | null> {
    // A name the caller may not read, or that the registry does not answer for, is not a match: try the next.
    for (const candidate of localSpellings(this.localReference(name), this.registry)) if (await this.exists(principal, candidate).catch(() => false)) return candidate;
    return null;
  }

  /** `busybox:1` for Muelle's registry (Docker's short form). */
  familiar(ref: ImageReference): string {
    return formatReference(ref, { defaultRegistry: this.registry });
  }

  isImageId(name: string): boolean {
    return imageIdPrefixOf(name) !== undefined;
  }

  async list(principal: RequestPrincipal): Promise<CatalogImage[]> {
    const client = this.client(principal);
    const byId = new Map<string, CatalogImage>();
    for (const repository of await this.repositories(principal)) {
      const tags = await registryCall(client.listTags(repository).catch((e) => (e instanceof RegistryNotFoundError ? [] : Promise.reject(e))));
      for (const tag of tags) {
        const image = await this.load(client, { registry: this.registry, repository, tag }).catch((e) => (e instanceof NotFoundError ? null : Promise.reject(e)));
        if (!image) continue;
        const known = byId.get(image.id);
        if (!known) byId.set(image.id, image);
        else {
          known.repoTags.push(...image.repoTags.filter((t) => !known.repoTags.includes(t)));
          known.repoDigests.push(...image.repoDigests.filter((d) => !known.repoDigests.includes(d)));
          known.refs.push(...image.refs);
          if (isUntaggedRepository(known.repository)) Object.assign(known, { repository: image.repository, reference: image.reference });
        }
      }
    }
    return [...byId.values()];
  }

  /**
   * By full or short id (a unique prefix of 12+ hex characters; ambiguous → 400), by name or by
   * name@digest; 404 `No such image: <name>` suggesting a pull otherwise.
   */
  async resolve(principal: RequestPrincipal, name: string, typed = name): Promise<CatalogImage> {
    if (this.isImageId(name)) {
      const match = findByImageId(await this.list(principal), name);
      if (match) return match;
      // A bare hex string may still be a name (`docker run abcdef123456`); `sha256:…` cannot.
      if (name.startsWith('sha256:')) throw new NotFoundError(imageNotFoundMessage(typed));
    }
    const ref = await this.findLocal(principal, name);
    await this.access.require(principal, 'pull', ref.repository, { notFound: imageNotFoundMessage(typed) });
    try {
      const image = await this.load(this.client(principal), ref);
      const listed = (await this.list(principal)).find((i) => i.id === image.id);
      return { ...image, repoTags: listed?.repoTags ?? image.repoTags, refs: listed?.refs ?? image.refs };
    } catch (error) {
      if (error instanceof NotFoundError) throw new NotFoundError(imageNotFoundMessage(typed));
      throw error;
    }
  }

  /**
   * What a container runs: the name as it exists in Muelle's registry, pinned by digest when given
   * by id; a name of another registry stays as written (the agent pulls it from there).
   */
  async runnableReference(principal: RequestPrincipal, name: string, typed = name): Promise<string> {
    const parsed = parseImageName(name, this.registry, 'body.image');
    if (parsed.registry !== this.registry) return formatReference(parsed);
    if (this.isImageId(name)) return this.pinned(await this.resolve(principal, name, typed));
    const ref = await this.locate(principal, name);
    if (!ref) throw new NotFoundError(imageNotFoundMessage(typed));
    return formatReference(ref);
  }

  /**
   * `runnableReference` and the image's `VOLUME` paths (its config's `Volumes`) from one read of
   * its manifest and config: what a container create needs. An image of another registry is read
   * by its host's agent only: no paths are known here (README).
   */
  async runnable(principal: RequestPrincipal, name: string, typed = name): Promise<{ reference: string; volumePaths: string[] }> {
    const parsed = parseImageName(name, this.registry, 'body.image');
    if (parsed.registry !== this.registry) return { reference: formatReference(parsed), volumePaths: [] };
    const volumePathsOf = (image: CatalogImage) => Object.keys(image.config.config?.Volumes ?? {});
    if (this.isImageId(name)) {
      const image = await this.resolve(principal, name, typed);
      return { reference: this.pinned(image), volumePaths: volumePathsOf(image) };
    }
    const ref = await this.locate(principal, name);
    if (!ref) throw new NotFoundError(imageNotFoundMessage(typed));
    try {
      return { reference: formatReference(ref), volumePaths: volumePathsOf(await this.load(this.client(principal), ref)) };
    } catch (error) {
      // Deleted between the lookup and the read: as if it had never been there.
      if (error instanceof NotFoundError) throw new NotFoundError(imageNotFoundMessage(typed));
      throw error;
    }
  }

  private pinned(image: CatalogImage): string {
    return formatReference({ registry: this.registry, repository: image.repository, digest: image.manifestDigest });
  }

  /** Whether `name` exists in Muelle's registry (what `docker run` calls "locally"). */
  async exists(principal: RequestPrincipal, ref: ImageReference): Promise<boolean> {
    if (!(await this.access.decide(principal, 'pull', ref.repository)).allowed) return false;
    const head = await registryCall(this.client(principal).headManifest(ref.repository, ref.digest ?? ref.tag!, MANIFEST_TYPES));
    return head !== null;
  }

  async manifestSize(principal: RequestPrincipal, ref: ImageReference): Promise<number> {
    const head = await registryCall(this.client(principal).headManifest(ref.repository, ref.digest ?? ref.tag!, MANIFEST_TYPES));
    return head?.size ?? 0;
  }

  private async load(client: RegistryClient, ref: ImageReference): Promise<CatalogImage> {
    const reference = ref.digest ?? ref.tag!;
    const top = await registryCall(client.getManifest(ref.repository, reference, MANIFEST_TYPES));
    let document = JSON.parse(top.bytes.toString('utf8'));
    if (Array.isArray(document.manifests)) {
      const child = requireManifest<{ digest: string; platform?: Platform }>(document.manifests, `${ref.repository}:${reference}`);
      document = JSON.parse((await registryCall(client.getManifest(ref.repository, child.digest, MANIFEST_TYPES))).bytes.toString('utf8'));
    }
    const configDigest: string | undefined = document.config?.digest;
    if (!configDigest) throw new NotFoundError(`${ref.repository}:${reference} has no image config`);
    const config = await this.configOf(client, ref.repository, configDigest);
    const layers: Array<{ size?: number }> = document.layers ?? [];
    const untagged = isUntaggedRepository(ref.repository);
    // Docker's familiar form: `library/` is implicit for images of the default registry.
    const shortName = familiarName({ registry: this.registry, repository: ref.repository }, this.registry);
    return {
      id: configDigest,
      repoTags: untagged || !ref.tag ? [] : [`${shortName}:${ref.tag}`],
      repoDigests: untagged ? [] : [`${shortName}@${top.digest}`],
      repository: ref.repository,
      reference,
      manifestDigest: top.digest,
      refs: [formatReference(ref)],
      size: (document.config?.size ?? 0) + layers.reduce((sum, l) => sum + (l.size ?? 0), 0),
      config,
    };
  }

  private async configOf(client: RegistryClient, repository: string, digest: string): Promise<ImageConfig> {
    const cached = this.configs.get(digest);
    if (cached) return cached;
    const config = JSON.parse((await readImageConfigBytes(await registryCall(client.getBlob(repository, digest)))).toString('utf8')) as ImageConfig;
    if (this.configs.size > 5_000) this.configs.clear();
    this.configs.set(digest, config);
    return config;
  }

  private async repositories(principal: RequestPrincipal): Promise<string[]> {
    const names: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await this.bus.request(listCatalog, { n: 1000, last });
      names.push(...this.access.pullable(principal, page));
      if (!page.hasMore || !page.repositories.length) return names;
      last = page.repositories[page.repositories.length - 1];
    }
  }

  private get insecureRegistries(): string[] {
    return insecureRegistriesOf(this.config.MUELLE_INSECURE_REGISTRIES);
  }

  /** The platform manifest of a resolved image (an index is narrowed to the host's platform, as `load` does). */
  async manifestOf(principal: RequestPrincipal, image: CatalogImage): Promise<{ digest: string; mediaType: string; bytes: Buffer; document: { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number; mediaType: string }> } }> {
    const client = this.client(principal);
    let fetched = await registryCall(client.getManifest(image.repository, image.manifestDigest, MANIFEST_TYPES));
    let document = JSON.parse(fetched.bytes.toString('utf8'));
    if (Array.isArray(document.manifests)) {
      const child = requireManifest<{ digest: string; platform?: Platform }>(document.manifests, `${image.repository}@${image.manifestDigest}`);
      fetched = await registryCall(client.getManifest(image.repository, child.digest, MANIFEST_TYPES));
      document = JSON.parse(fetched.bytes.toString('utf8'));
    }
    return { digest: fetched.digest, mediaType: document.mediaType ?? fetched.mediaType, bytes: fetched.bytes, document };
  }

  /** Muelle's registry as the caller (its grants bind every read and write). */
  registryClient(principal: RequestPrincipal): RegistryClient {
    return this.client(principal);
  }

  private client(principal: RequestPrincipal): RegistryClient {
    return createRegistryClient({ ...registryEndpoint(this.registry, this.insecureRegistries), credentials: principal.registryCredentials, userAgent: 'muelle-api-docker' });
  }
}
