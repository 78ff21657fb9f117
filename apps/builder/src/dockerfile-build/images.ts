import { MediaType, parseImageConfig, parseManifest, parseReference, readImageConfigBytes, type ImageConfig, type ImageReference } from '@muelle/oci';
import { formatPlatform, hostPlatform, selectManifest } from '@muelle/images';
import { createRegistryClient, credentialsFor, registryEndpoint, type RegistryClient, type RegistryCredentials } from '@muelle/registry-client';
import { BuildFailedError } from './errors';
import type { BuilderStore, StoredLayer } from './store';

export interface PulledImage {
  reference: string;
  manifestDigest: string;
  config: ImageConfig;
  layers: StoredLayer[];
}

export interface RegistryAccess {
  /** Registry host for references without one (the platform registry, `127.0.0.1:5000`). */
  defaultRegistry: string;
  /** Credentials per registry host:port, each only for its registry (the api puts the user's Muelle login under the platform registry). */
  credentials: Record<string, RegistryCredentials>;
  /** Hosts reached over plain http (loopback always is). */
  insecureRegistries?: string[];
}

/** Pulls and pushes images for the builder; registry clients are made per host with its credentials. */
export class ImageTransfer {
  private readonly clients = new Map<string, RegistryClient>();

  constructor(
    private readonly store: BuilderStore,
    private readonly access: RegistryAccess,
  ) {}

  parse(reference: string): ImageReference {
    try {
      return parseReference(reference, this.access.defaultRegistry);
    } catch (error) {
      throw BuildFailedError.of('base-image', `invalid image reference "${reference}": ${(error as Error).message}`);
    }
  }

  client(registry: string): RegistryClient {
    let client = this.clients.get(registry);
    if (!client) {
      client = createRegistryClient({ ...registryEndpoint(registry, this.access.insecureRegistries), credentials: credentialsFor(registry, { ownRegistry: this.access.defaultRegistry, explicit: this.access.credentials }), userAgent: 'muelle-builder' });
      this.clients.set(registry, client);
    }
    return client;
  }

  /** Resolves a reference to an image manifest for this host's platform and makes sure all its layers are local. */
  async pull(reference: string, line?: number): Promise<PulledImage> {
    const ref = this.parse(reference);
    const client = this.client(ref.registry);
    try {
      let fetched = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
      let parsed = parseManifest(fetched.bytes, fetched.mediaType);
      if (parsed.kind === 'index') {
        const match = selectManifest(parsed.manifests);
        if (!match) throw BuildFailedError.of('base-image', `${reference} has no ${formatPlatform(hostPlatform())} image`, { line });
        fetched = await client.getManifest(ref.repository, match.digest);
        parsed = parseManifest(fetched.bytes, fetched.mediaType);
      }
      const manifest = JSON.parse(fetched.bytes.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string; size: number; mediaType: string }> };
      const configBytes = await readImageConfigBytes(await client.getBlob(ref.repository, manifest.config.digest));
      const config = parseImageConfig(configBytes);
      const diffIds = config.rootfs.diff_ids;
      if (diffIds.length !== manifest.layers.length) throw BuildFailedError.of('base-image', `${reference}: config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, { line });
      const layers: StoredLayer[] = [];
      for (const [i, layer] of manifest.layers.entries()) {
        if (!(await this.store.hasBlob(layer.digest))) await this.store.putBlob(layer.digest, await client.getBlob(ref.repository, layer.digest));
        layers.push({ diffId: diffIds[i] as string, digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
      }
      return { reference, manifestDigest: fetched.digest, config, layers };
    } catch (error) {
      if (error instanceof BuildFailedError) throw error;
      throw BuildFailedError.of('base-image', `Dockerfile:${line ?? '?'}: cannot pull ${reference}: ${(error as Error).message}`, { line });
    }
  }

  /** Pushes every blob first and the manifest last, so a failure leaves no tag pointing at a partial image. */
  async push(target: string, layers: StoredLayer[], config: { digest: string; bytes: Buffer }, manifest: { digest: string; bytes: Buffer }): Promise<string> {
    const ref = this.parse(target);
    const client = this.client(ref.registry);
    try {
      for (const layer of layers) {
        await client.pushBlob(ref.repository, layer.digest, layer.size, () => this.store.openBlob(layer.digest));
      }
      await client.pushBlob(ref.repository, config.digest, config.bytes.length, () => this.store.openBlob(config.digest));
      const { digest } = await client.putManifest(ref.repository, ref.tag ?? 'latest', manifest.bytes, MediaType.OciManifest);
      return digest;
    } catch (error) {
      throw BuildFailedError.of('push', `pushing ${target} failed: ${(error as Error).message}`);
    }
  }
}
