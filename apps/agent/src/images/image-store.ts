import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostImage, InvalidArgumentError, NotFoundError, ConflictError, PermissionDeniedError, RegistryAuth, UnavailableError } from '@muelle/contracts';
import { requireManifest, SHA256_DIGEST } from '@muelle/images';
import { HostFs } from '@muelle/isolation';
import { applyLayer, formatReference, ImageConfig, parseImageConfig, parseManifest, parseReference, ParsedImageManifest, readImageConfigBytes } from '@muelle/oci';
import {
  createRegistryClient,
  credentialsFor,
  RegistryAuthError,
  RegistryClient,
  RegistryClientOptions,
  RegistryCredentials,
  registryEndpoint,
  RegistryNotFoundError,
  RegistryUnreachableError,
} from '@muelle/registry-client';

/** What the agent keeps per pulled image (`images/<digest hex>.json`). */
export interface StoredImage {
  digest: string;
  configDigest: string;
  references: string[];
  /** diff ids, bottom layer first. */
  layers: string[];
  sizeBytes: number;
  config: ImageConfig;
  pulledAt: string;
}

export type ClientFactory = (options: RegistryClientOptions) => RegistryClient;

const hex = (digest: string) => digest.replace(/^sha256:/, '');

/**
 * Images on this host. Every layer is unpacked once, in overlayfs whiteout form, into
 * `layers/<diffId hex>/` — a content-addressed store all images and containers share — and an
 * image record lists its layers. Layers no image refers to are deleted by `gc()`.
 */
export class ImageStore {
  private readonly imagesDir: string;
  private readonly layersDir: string;
  private readonly pulling = new Map<string, Promise<StoredImage>>();
  private readonly layerLocks = new Map<string, Promise<void>>();
  /** Told about every pull that went to a registry (for /metrics); set once the service kit is up. */
  pullObserver?: (outcome: { result: 'ok' | 'error'; seconds: number; downloadedBytes: number }) => void;

  constructor(
    dataDir: string,
    private readonly defaultRegistry: string,
    private readonly hostFs: HostFs,
    private readonly clientFactory: ClientFactory = createRegistryClient,
    /** Registries that may be reached over plain http (MUELLE_INSECURE_REGISTRIES); loopback always may. */
    private readonly insecureRegistries: readonly string[] = [],
  ) {
    this.imagesDir = join(dataDir, 'images');
    this.layersDir = join(dataDir, 'layers');
  }

  async init(): Promise<void> {
    await mkdir(this.imagesDir, { recursive: true });
    await mkdir(this.layersDir, { recursive: true });
    // Half-extracted layers of a crashed agent.
    for (const name of await readdir(this.layersDir)) if (name.endsWith('.partial')) await rm(join(this.layersDir, name), { recursive: true, force: true });
  }

  layerPath(diffId: string): string {
    return join(this.layersDir, hex(diffId));
  }

  normalize(reference: string): string {
    try {
      return formatReference(parseReference(reference, this.defaultRegistry));
    } catch (error) {
      throw new InvalidArgumentError(`invalid image reference "${reference}": ${(error as Error).message}`);
    }
  }

  async list(): Promise<StoredImage[]> {
    const images: StoredImage[] = [];
    for (const name of await readdir(this.imagesDir)) {
      if (!name.endsWith('.json')) continue;
      images.push(JSON.parse(await readFile(join(this.imagesDir, name), 'utf8')) as StoredImage);
    }
    return images;
  }

  /** The local image a reference (or a digest) names, or undefined. */
  async find(reference: string): Promise<StoredImage | undefined> {
    const images = await this.list();
    if (SHA256_DIGEST.test(reference)) return images.find((i) => i.digest === reference);
    const normalized = this.normalize(reference);
    const pinned = parseReference(reference, this.defaultRegistry).digest;
    return images.find((i) => i.references.includes(normalized) || (pinned !== undefined && i.digest === pinned));
  }

  /**
   * Pulls unless already here (tags are re-resolved only by an explicit pull). An image cached
   * from Muelle's registry is used only after the registry confirms, with the requester's
   * credentials, that the repository it names holds that digest for them: a cached digest never
   * lets a team run an image it may not pull (SECURITY.md §2).
   */
  async ensure(reference: string, auth?: RegistryAuth): Promise<StoredImage> {
    const cached = await this.find(reference);
    if (!cached) return this.pull(reference, auth);
    const ref = parseReference(this.normalize(reference), this.defaultRegistry);
    if (ref.registry === this.defaultRegistry) await this.checkPullable(ref.registry, ref.repository, cached.digest, reference, auth);
    return cached;
  }

  private async checkPullable(registry: string, repository: string, digest: string, reference: string, auth?: RegistryAuth): Promise<void> {
    // The same endpoint rule (https first, http only where allowed) and credentials as a pull.
    const client = this.clientFactory({ ...registryEndpoint(registry, this.insecureRegistries), credentials: this.credentialsFor(registry, auth) });
    let head;
    try {
      head = await client.headManifest(repository, digest);
    } catch (error) {
      throw translatePullError(error, reference);
    }
    if (!head) throw new NotFoundError(`image ${reference} not found in ${registry}`);
  }

  pull(reference: string, auth?: RegistryAuth): Promise<StoredImage> {
    const normalized = this.normalize(reference);
    const running = this.pulling.get(normalized);
    if (running) return running;
    const started = process.hrtime.bigint();
    const download = { bytes: 0 };
    const pull = this.doPull(normalized, auth, download).finally(() => this.pulling.delete(normalized));
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    pull.then(
      () => this.pullObserver?.({ result: 'ok', seconds: seconds(), downloadedBytes: download.bytes }),
      () => this.pullObserver?.({ result: 'error', seconds: seconds(), downloadedBytes: download.bytes }),
    );
    this.pulling.set(normalized, pull);
    return pull;
  }

  /** Muelle credentials only for Muelle's registry; credentials named for a registry only for that one. */
  private credentialsFor(registry: string, auth?: RegistryAuth): RegistryCredentials | undefined {
    if (!auth) return undefined;
    const { registry: givenFor, ...credentials } = auth;
    return credentialsFor(registry, givenFor ? { ownRegistry: this.defaultRegistry, explicit: { [givenFor]: credentials } } : { ownRegistry: this.defaultRegistry, own: credentials });
  }

  /** `download.bytes` counts the blobs fetched (layers already unpacked here are not). */
  private async doPull(normalized: string, auth: RegistryAuth | undefined, download: { bytes: number }): Promise<StoredImage> {
    const ref = parseReference(normalized, this.defaultRegistry);
    const client = this.clientFactory({ ...registryEndpoint(ref.registry, this.insecureRegistries), credentials: this.credentialsFor(ref.registry, auth) });
    let fetched;
    try {
      fetched = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
    } catch (error) {
      throw translatePullError(error, normalized);
    }
    let manifest = parseManifest(fetched.bytes, fetched.mediaType);
    let digest = fetched.digest;
    if (manifest.kind === 'index') {
      const wanted = requireManifest(manifest.manifests, normalized);
      const child = await client.getManifest(ref.repository, wanted.digest);
      manifest = parseManifest(child.bytes, child.mediaType);
      digest = child.digest;
      if (manifest.kind !== 'manifest') throw new InvalidArgumentError(`image ${normalized}: nested index`);
    }
    const image = manifest as ParsedImageManifest;
    const configBytes = await readImageConfigBytes(await client.getBlob(ref.repository, image.config.digest));
    download.bytes += configBytes.length;
    const config = parseImageConfig(configBytes);
    if (config.rootfs.diff_ids.length !== image.layers.length) {
      throw new InvalidArgumentError(`image ${normalized}: ${image.layers.length} layers but ${config.rootfs.diff_ids.length} diff ids`);
    }
    let sizeBytes = 0;
    for (const [index, layer] of image.layers.entries()) {
      const diffId = config.rootfs.diff_ids[index] as string;
      sizeBytes += await this.ensureLayer(diffId, () => {
        download.bytes += layer.size;
        return client.getBlob(ref.repository, layer.digest);
      });
    }
    const existing = (await this.list()).filter((i) => i.references.includes(normalized) && i.digest !== digest);
    for (const old of existing) await this.saveImage({ ...old, references: old.references.filter((r) => r !== normalized) });
    const previous = (await this.list()).find((i) => i.digest === digest);
    const stored: StoredImage = {
      digest,
      configDigest: image.config.digest,
      references: [...new Set([...(previous?.references ?? []), normalized])],
      layers: config.rootfs.diff_ids,
      sizeBytes,
      config,
      pulledAt: new Date().toISOString(),
    };
    await this.saveImage(stored);
    return stored;
  }

  private async saveImage(image: StoredImage): Promise<void> {
    const file = join(this.imagesDir, `${hex(image.digest)}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(image));
    await rename(`${file}.tmp`, file);
  }

  /** Unpacks a layer once; returns its unpacked size. Verifies the uncompressed digest (diff id). */
  private async ensureLayer(diffId: string, open: () => Promise<NodeJS.ReadableStream>): Promise<number> {
    const target = this.layerPath(diffId);
    while (this.layerLocks.has(diffId)) await this.layerLocks.get(diffId);
    const sizeFile = join(target, '..', `${hex(diffId)}.size`);
    try {
      return Number(await readFile(sizeFile, 'utf8'));
    } catch {
      // not unpacked yet
    }
    let release!: () => void;
    this.layerLocks.set(diffId, new Promise<void>((r) => (release = r)));
    const partial = `${target}.partial`;
    try {
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { recursive: true });
      const result = await applyLayer(partial, (await open()) as never, {
        whiteoutMode: 'overlay',
        hooks: this.hostFs,
        allowDevices: true,
      });
      if (result.diffId !== diffId) throw new InvalidArgumentError(`layer ${diffId}: content hashes to ${result.diffId}`);
      await rm(target, { recursive: true, force: true });
      await rename(partial, target);
      await writeFile(sizeFile, String(result.bytes));
      return result.bytes;
    } catch (error) {
      await rm(partial, { recursive: true, force: true });
      throw error;
    } finally {
      this.layerLocks.delete(diffId);
      release();
    }
  }

  /** Forgets a reference (or a whole image by digest). */
  async remove(reference: string, inUse: (digest: string) => boolean, force: boolean): Promise<{ removed: string[]; layersDeleted: number }> {
    const image = await this.find(reference);
    if (!image) throw new NotFoundError(`no such image on this host: ${reference}`);
    if (!force && inUse(image.digest)) throw new ConflictError(`image ${reference} is used by a container`);
    const byDigest = reference === image.digest;
    const remaining = byDigest ? [] : image.references.filter((r) => r !== this.normalize(reference));
    const removed = byDigest ? image.references : image.references.filter((r) => !remaining.includes(r));
    if (remaining.length) await this.saveImage({ ...image, references: remaining });
    else await rm(join(this.imagesDir, `${hex(image.digest)}.json`), { force: true });
    return { removed: removed.length ? removed : [image.digest], layersDeleted: (await this.gc()).layers };
  }

  /**
   * `system prune`: forgets every image no container on this host uses (any state; the caller
   * removes stopped containers first) and deletes the layers left without an image. A pull in
   * progress is not an image yet and its layers are locked, so it is left alone.
   */
  async prune(inUse: (digest: string) => boolean): Promise<{ removedImages: string[]; layersDeleted: number; freedBytes: number }> {
    const unused = (await this.list()).filter((image) => !inUse(image.digest));
    for (const image of unused) await rm(join(this.imagesDir, `${hex(image.digest)}.json`), { force: true });
    const { layers, bytes } = await this.gc();
    return { removedImages: unused.map((image) => image.digest), layersDeleted: layers, freedBytes: bytes };
  }

  /** Deletes layers no image refers to; returns how many and their unpacked bytes (from each layer's `.size` record). */
  async gc(): Promise<{ layers: number; bytes: number }> {
    const wanted = new Set((await this.list()).flatMap((i) => i.layers.map(hex)));
    let layers = 0;
    let bytes = 0;
    for (const name of await readdir(this.layersDir)) {
      const layer = name.replace(/\.size$/, '');
      if (!/^[a-f0-9]{64}$/.test(layer) || wanted.has(layer) || this.layerLocks.has(`sha256:${layer}`)) continue;
      if (name.endsWith('.size')) {
        // Read before the file goes; a missing or unreadable record counts as 0 (the layer still goes).
        bytes += Number(await readFile(join(this.layersDir, name), 'utf8').catch(() => '0')) || 0;
        await rm(join(this.layersDir, name), { force: true });
        continue;
      }
      await rm(join(this.layersDir, name), { recursive: true, force: true });
      layers++;
    }
    return { layers, bytes };
  }

  toHostImage(image: StoredImage, usedBy: string[]): HostImage {
    return {
      references: image.references,
      digest: image.digest,
      configDigest: image.configDigest,
      sizeBytes: image.sizeBytes,
      layers: image.layers,
      pulledAt: image.pulledAt,
      usedBy,
    };
  }
}

function translatePullError(error: unknown, reference: string): Error {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof RegistryNotFoundError) return new NotFoundError(`image ${reference} not found: ${message}`);
  if (error instanceof RegistryAuthError) return new PermissionDeniedError(`pull of ${reference} refused by the registry: ${message}`);
  if (error instanceof RegistryUnreachableError) return new UnavailableError(`registry for ${reference} unreachable: ${message}`);
  return error instanceof Error ? error : new Error(message);
}
