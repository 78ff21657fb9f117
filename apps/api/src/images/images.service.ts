import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { ConflictError, HostImage, InvalidArgumentError, listCatalog, MuelleError, NotFoundError } from '@muelle/contracts';
import { imageNotFoundMessage, type Platform, parseImageName, requireManifest, shortImageId } from '@muelle/images';
import { formatReference, ImageReference, readImageConfigBytes } from '@muelle/oci';
import {
  copyImage,
  createRegistryClient,
  registryEndpoint,
  RegistryClient,
  RegistryCredentials,
  RegistryNotFoundError,
} from '@muelle/registry-client';
import { insecureRegistriesOf, LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/audit-log';
import { RequestPrincipal } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';
import { ContainersService } from '../containers/containers.service';
import { EventHub } from '../events/event-hub';
import { RepositoryAccess } from '../repositories/repository-access';
import { Cluster } from '../hosts/cluster';
import { ImageCatalog } from './image-catalog';
import { registryCall } from './registry-errors';
import { PullBody, PushBody } from './images.schemas';

export interface ImageSummary {
  /** The config digest: Docker's image id, the same in `muelle images` and `docker images`. */
  id: string | null;
  reference: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  /** Compressed: config plus layers as stored in the registry. */
  sizeBytes: number;
  created: string | null;
  /** Hosts that have it cached (null when not asked). */
  hosts: string[] | null;
}

export type CopyEvent = { status: 'copying' | 'copied' | 'skipped'; digest: string; size: number } | { status: 'prefetching' | 'prefetched'; host: string };

const blobProgress = (progress: (event: CopyEvent) => void) => (event: { digest: string; size: number; state: 'copying' | 'copied' | 'skipped' }) =>
  progress({ status: event.state, digest: event.digest, size: event.size });

/** Writing another team's repository answers 404 like reading it: its existence does not leak. */
const writeWording = (repository: string, field: string) => ({ notFound: `no such repository: ${repository}`, field });

/** The platform registry as an image store: list, inspect, pull into it, tag, push out, remove. */
@Injectable()
export class ImagesService {
  private readonly createdByConfig = new Map<string, string | null>();

  constructor(
    private readonly bus: BusClient,
    private readonly cluster: Cluster,
    private readonly containers: ContainersService,
    private readonly audit: AuditLog,
    private readonly hub: EventHub,
    private readonly access: RepositoryAccess,
    private readonly catalog: ImageCatalog,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Registries the api may reach over plain http (MUELLE_INSECURE_REGISTRIES); loopback always may. */
  private get insecureRegistries(): string[] {
    return insecureRegistriesOf(this.config.MUELLE_INSECURE_REGISTRIES);
  }

  get registryAddress(): string {
    return this.config.MUELLE_REGISTRY_ADDRESS;
  }

  parse(image: string, field: string): ImageReference {
    return parseImageName(image, this.registryAddress, field);
  }

  /** A reference to Muelle's own registry, or a 400 naming the field. */
  parseLocal(image: string, field: string): ImageReference {
    const ref = this.parse(image, field);
    if (ref.registry !== this.registryAddress) throw new InvalidArgumentError(`${field}: ${image} is not in Muelle's registry (${this.registryAddress}); pull it first`, { field });
    return ref;
  }

  async list(principal: RequestPrincipal, options: { limit: number; cursor?: string; hosts: boolean }): Promise<{ items: ImageSummary[]; nextCursor: string | null }> {
    const repositories: string[] = [];
    let last = options.cursor;
    let hasMore = true;
    // Skip other teams' repositories without counting them against the page.
    while (repositories.length < options.limit && hasMore) {
      const page = await this.bus.request(listCatalog, { n: 1000, last });
      for (const name of this.access.pullable(principal, page)) if (repositories.length < options.limit) repositories.push(name);
      hasMore = page.hasMore;
      last = page.repositories[page.repositories.length - 1];
      if (!page.repositories.length) break;
    }
    const client = this.localClient(principal);
    const cached = options.hosts ? await this.cachedByHost() : null;
    const items: ImageSummary[] = [];
    for (const repository of repositories) {
      const tags = await registryCall(client.listTags(repository).catch((e) => (e instanceof RegistryNotFoundError ? [] : Promise.reject(e))));
      for (const tag of tags) {
        const summary = await this.summary(client, { registry: this.registryAddress, repository, tag }, cached).catch((error) => {
          this.logger.warn({ err: error, repository, tag }, 'image listed without details');
          return null;
        });
        if (summary) items.push(summary);
      }
    }
    const full = repositories.length === options.limit && (hasMore || repositories[repositories.length - 1] !== last);
    return {
      items,
      nextCursor: full ? repositories[repositories.length - 1] : null,
    };
  }

  async inspect(principal: RequestPrincipal, image: string) {
    const ref = await this.locate(principal, image, 'image');
    const client = this.localClient(principal);
    const summary = await this.summary(client, ref, await this.cachedByHost());
    const manifest = await registryCall(client.getManifest(ref.repository, summary.digest));
    return {
      ...summary,
      manifest: JSON.parse(manifest.bytes.toString('utf8')),
    };
  }

  /** Copies an image from any registry into Muelle's, then optionally pre-fetches it onto hosts. */
  async pull(principal: RequestPrincipal, body: PullBody, progress: (event: CopyEvent) => void = () => undefined) {
    const source = this.parse(body.image, 'body.image');
    const target = body.as ? this.parseLocal(body.as, 'body.as') : { ...source, registry: this.registryAddress };
    const local = this.localClient(principal);
    const sourceReference = source.digest ?? source.tag!;
    const targetReference = target.tag ?? target.digest!;
    const inPlace = source.registry === this.registryAddress && source.repository === target.repository && sourceReference === targetReference;
    // Pulling what is already in Muelle's registry only reads it; a copy writes the target.
    if (source.registry === this.registryAddress) await this.access.require(principal, 'pull', source.repository, { notFound: `no such image: ${body.image}`, field: 'body.image' });
    if (!inPlace) await this.access.require(principal, 'push', target.repository, writeWording(target.repository, body.as ? 'body.as' : 'body.image'));
    let digest: string;
    if (inPlace) {
      const head = await registryCall(local.headManifest(source.repository, sourceReference));
      if (!head) throw new NotFoundError(`no such image: ${body.image}`);
      digest = head.digest;
    } else {
      const from = source.registry === this.registryAddress ? local : this.client(source.registry, body.sourceAuth);
      ({ digest } = await registryCall(
        copyImage(
          {
            client: from,
            repository: source.repository,
            reference: sourceReference,
          },
          {
            client: local,
            repository: target.repository,
            reference: targetReference,
          },
          { onBlob: blobProgress(progress) },
        ),
      ));
    }
    const reference = formatReference({
      registry: this.registryAddress,
      repository: target.repository,
      tag: target.tag,
    });
    const prefetched = await this.prefetch(principal, reference, body.hosts, progress);
    await this.audit.record(principal, 'image.pull', `image:${reference}`, {
      source: body.image,
      digest,
      hosts: prefetched,
    });
    this.hub.publish({
      type: 'image',
      action: 'pull',
      id: reference,
      teamId: principal.teamId,
      attributes: { digest, source: body.image },
    });
    return { reference, digest, hosts: prefetched };
  }

  /** Names an image of Muelle's registry anew (across repositories too); the target's registry host only matters for push. */
  async tag(principal: RequestPrincipal, sourceImage: string, targetImage: string) {
    const found = await this.locate(principal, sourceImage, 'body.source');
    const source = { repository: found.repository, reference: found.digest ?? found.tag! };
    const target = this.parse(targetImage, 'body.target');
    if (!target.tag)
      throw new InvalidArgumentError('body.target: needs a tag, not a digest', {
        field: 'body.target',
      });
    await this.access.require(principal, 'push', target.repository, writeWording(target.repository, 'body.target'));
    const client = this.localClient(principal);
    const { digest } = await registryCall(
      copyImage({ client, repository: source.repository, reference: source.reference }, { client, repository: target.repository, reference: target.tag }),
    );
    const reference = formatReference({
      registry: this.registryAddress,
      repository: target.repository,
      tag: target.tag,
    });
    await this.audit.record(principal, 'image.tag', `image:${reference}`, {
      source: sourceImage,
      digest,
    });
    this.hub.publish({
      type: 'image',
      action: 'tag',
      id: reference,
      teamId: principal.teamId,
      attributes: { digest, source: sourceImage },
    });
    return { source: sourceImage, target: targetImage, reference, digest };
  }

  /**
   * Sends Muelle's `repo:tag` to the registry the name points to. When the name points at
   * Muelle's own registry there is nothing to send: it checks the image is complete there.
   */
  async push(principal: RequestPrincipal, body: PushBody, progress: (event: CopyEvent) => void = () => undefined) {
    const destination = this.parse(body.image, 'body.image');
    const reference = destination.digest ?? destination.tag!;
    await this.access.require(principal, 'pull', destination.repository, { notFound: `no such image: ${body.image}`, field: 'body.image' });
    const local = this.localClient(principal);
    let digest: string;
    if (destination.registry === this.registryAddress) {
      digest = await this.verifyComplete(local, destination.repository, reference, progress);
    } else {
      ({ digest } = await registryCall(
        copyImage(
          { client: local, repository: destination.repository, reference },
          {
            client: this.client(destination.registry, body.targetAuth),
            repository: destination.repository,
            reference,
          },
          { onBlob: blobProgress(progress) },
        ),
      ));
    }
    await this.audit.record(principal, 'image.push', `image:${body.image}`, {
      digest,
    });
    this.hub.publish({
      type: 'image',
      action: 'push',
      id: body.image,
      teamId: principal.teamId,
      attributes: { digest },
    });
    return { image: body.image, digest };
  }

  /**
   * `rmi`: a name removes that name; an id removes every name of the image, which needs `force`
   * when it has several tags (Docker's rule). `untagged` lists the names removed, `id` is set when
   * the image itself is gone.
   */
  async remove(principal: RequestPrincipal, image: string, options: { hosts: boolean; force: boolean }) {
    if (this.catalog.isImageId(image)) {
      const found = await this.catalog.resolve(principal, image);
      if (found.repoTags.length > 1 && !options.force) {
        throw new ConflictError(`unable to delete ${shortImageId(found.id)} (must be forced): the image is referenced in ${found.repoTags.length} names (${found.repoTags.join(', ')})`);
      }
      const removed = [];
      for (const name of found.refs) removed.push(await this.removeName(principal, name, options));
      return { removed: removed[0]?.removed ?? image, untagged: removed.map((r) => r.removed), id: found.id, hosts: [...new Set(removed.flatMap((r) => r.hosts))] };
    }
    const ref = await this.locate(principal, image, 'image');
    const all = (await this.catalog.list(principal)).find((i) => i.refs.includes(formatReference(ref)));
    const result = await this.removeName(principal, formatReference(ref), options);
    return { ...result, untagged: [result.removed], id: all && all.refs.length <= 1 ? all.id : null };
  }

  private async removeName(principal: RequestPrincipal, image: string, options: { hosts: boolean; force: boolean }) {
    const ref = this.parseLocal(image, 'image');
    await this.access.require(principal, 'delete', ref.repository, { notFound: imageNotFoundMessage(image) });
    const reference = formatReference(ref);
    await registryCall(this.localClient(principal).deleteManifest(ref.repository, ref.digest ?? ref.tag!));
    const untaggedOn: string[] = [];
    if (options.hosts) {
      for (const host of (await this.cluster.hosts()).filter((h) => h.state === 'ready')) {
        try {
          await this.bus.request(this.containers.agent(host.id).removeImage, {
            reference,
            force: options.force,
          });
          untaggedOn.push(host.id);
        } catch (error) {
          if (!(error instanceof MuelleError && error.code === 'NOT_FOUND')) throw error;
        }
      }
    }
    await this.audit.record(principal, 'image.remove', `image:${reference}`, {
      hosts: untaggedOn,
    });
    this.hub.publish({
      type: 'image',
      action: 'delete',
      id: reference,
      teamId: principal.teamId,
      attributes: { hosts: untaggedOn },
    });
    return { removed: reference, hosts: untaggedOn };
  }

  /**
   * A name, name@digest or full or short image id → where it is in Muelle's registry, through the
   * one resolution both doors use (`ImageCatalog.resolve`); 404 naming the image otherwise.
   */
  private async locate(principal: RequestPrincipal, image: string, field: string): Promise<ImageReference> {
    if (!this.catalog.isImageId(image)) this.parseLocal(image, field);
    const found = await this.catalog.resolve(principal, image);
    const pinned = found.reference.startsWith('sha256:');
    return { registry: this.registryAddress, repository: found.repository, ...(pinned ? { digest: found.reference } : { tag: found.reference }) };
  }

  private async verifyComplete(client: RegistryClient, repository: string, reference: string, progress: (event: CopyEvent) => void): Promise<string> {
    const manifest = await registryCall(client.getManifest(repository, reference));
    const document = JSON.parse(manifest.bytes.toString('utf8')) as {
      manifests?: Array<{ digest: string }>;
      config?: { digest: string; size: number };
      layers?: Array<{ digest: string; size: number }>;
    };
    for (const child of document.manifests ?? []) await this.verifyComplete(client, repository, child.digest, progress);
    for (const blob of [document.config, ...(document.layers ?? [])].filter((b): b is { digest: string; size: number } => !!b)) {
      if (!(await registryCall(client.headBlob(repository, blob.digest)))) throw new NotFoundError(`image ${repository}:${reference} is incomplete: blob ${blob.digest} is missing`);
      progress({ status: 'skipped', digest: blob.digest, size: blob.size });
    }
    return manifest.digest;
  }

  private async prefetch(principal: RequestPrincipal, reference: string, wanted: string[], progress: (event: CopyEvent) => void): Promise<string[]> {
    if (!wanted.length) return [];
    const ready = (await this.cluster.hosts()).filter((h) => h.state === 'ready');
    const targets = wanted.includes('*') ? ready.map((h) => h.id) : wanted;
    for (const id of targets) if (!ready.some((h) => h.id === id)) throw new NotFoundError(`no ready host ${id}`, { field: 'body.hosts' });
    await Promise.all(
      targets.map(async (host) => {
        progress({ status: 'prefetching', host });
        await this.bus.request(this.containers.agent(host).pullImage, {
          reference,
          registryAuth: await this.containers.registryTokens.pullAuth(principal, reference),
        });
        progress({ status: 'prefetched', host });
      }),
    );
    return targets;
  }

  private async summary(client: RegistryClient, ref: ImageReference, cached: Map<string, Set<string>> | null): Promise<ImageSummary> {
    const reference = ref.digest ?? ref.tag!;
    const top = await registryCall(client.getManifest(ref.repository, reference));
    let manifest = top;
    let document = JSON.parse(top.bytes.toString('utf8'));
    if (Array.isArray(document.manifests)) {
      const child = requireManifest<{ digest: string; platform?: Platform }>(document.manifests, `${ref.repository}:${reference}`);
      manifest = await registryCall(client.getManifest(ref.repository, child.digest));
      document = JSON.parse(manifest.bytes.toString('utf8'));
    }
    const layers: Array<{ size: number }> = document.layers ?? [];
    const sizeBytes = (document.config?.size ?? 0) + layers.reduce((sum, l) => sum + (l.size ?? 0), 0);
    const text = formatReference({
      registry: this.registryAddress,
      repository: ref.repository,
      tag: ref.tag,
      digest: ref.tag ? undefined : ref.digest,
    });
    const hosts = cached ? [...new Set([...(cached.get(top.digest) ?? []), ...(cached.get(manifest.digest) ?? []), ...(cached.get(text) ?? [])])].sort() : null;
    return {
      id: document.config?.digest ?? null,
      reference: text,
      repository: ref.repository,
      tag: ref.tag ?? '<none>',
      digest: top.digest,
      mediaType: top.mediaType,
      sizeBytes,
      created: document.config?.digest ? await this.created(client, ref.repository, document.config.digest) : null,
      hosts,
    };
  }

  private async created(client: RegistryClient, repository: string, configDigest: string): Promise<string | null> {
    if (this.createdByConfig.has(configDigest)) return this.createdByConfig.get(configDigest)!;
    let created: string | null = null;
    try {
      created = JSON.parse((await readImageConfigBytes(await client.getBlob(repository, configDigest))).toString('utf8')).created ?? null;
    } catch (error) {
      this.logger.warn({ err: error, repository, config: configDigest }, 'image config unreadable: its creation time is shown as unknown');
      created = null;
    }
    this.createdByConfig.set(configDigest, created);
    return created;
  }

  /** digest or reference → hosts that have it; hosts that do not answer quickly are left out. */
  private async cachedByHost(): Promise<Map<string, Set<string>>> {
    const byKey = new Map<string, Set<string>>();
    const ready = (await this.cluster.hosts()).filter((h) => h.state === 'ready');
    const answers = await Promise.all(
      ready.map((host) =>
        this.bus.request(this.containers.agent(host.id).listImages, {}, { timeoutMs: 2_000 }).then(
          (reply) => ({ host: host.id, images: reply.images }),
          () => ({ host: host.id, images: [] as HostImage[] }),
        ),
      ),
    );
    for (const { host, images } of answers) {
      for (const image of images) {
        for (const key of [image.digest, ...image.references]) {
          const set = byKey.get(key) ?? new Set<string>();
          set.add(host);
          byKey.set(key, set);
        }
      }
    }
    return byKey;
  }

  private localClient(principal: RequestPrincipal): RegistryClient {
    return this.client(this.registryAddress, principal.registryCredentials);
  }

  private client(registry: string, credentials?: RegistryCredentials): RegistryClient {
    return createRegistryClient({
      ...registryEndpoint(registry, this.insecureRegistries),
      credentials,
      userAgent: 'muelle-api',
    });
  }
}
