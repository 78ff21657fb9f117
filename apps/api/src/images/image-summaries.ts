import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { HostImage } from '@muelle/contracts';
import { type Platform, requireManifest } from '@muelle/images';
import { formatReference, ImageReference, readImageConfigBytes } from '@muelle/oci';
import { RegistryClient } from '@muelle/registry-client';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { API_CONFIG, ApiConfig } from '../config';
import { ContainersService } from '../containers/containers.service';
import { Cluster } from '../hosts/cluster';
import { registryCall } from './registry-errors';

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

/** What `images` and `inspect` show of an image: sizes and creation time from the registry, and the hosts that cache it. */
@Injectable()
export class ImageSummaries {
  private readonly createdByConfig = new Map<string, string | null>();

  constructor(
    private readonly bus: BusClient,
    private readonly cluster: Cluster,
    private readonly containers: ContainersService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async summary(client: RegistryClient, ref: ImageReference, cached: Map<string, Set<string>> | null): Promise<ImageSummary> {
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
      registry: this.config.MUELLE_REGISTRY_ADDRESS,
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
  async cachedByHost(): Promise<Map<string, Set<string>>> {
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
}
