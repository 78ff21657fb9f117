import { RegistryClient } from './registry-client';
import { RegistryError } from './errors';

export interface ImageLocation {
  client: RegistryClient;
  repository: string;
  /** tag or digest */
  reference: string;
}

export interface CopyProgress {
  /** One event per blob: `skipped` when the destination already had it. */
  onBlob?(event: { digest: string; size: number; state: 'copying' | 'copied' | 'skipped' }): void;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
}

/**
 * Copies an image (manifest or index, with every child manifest and blob) between registries or
 * repositories, streaming blobs through and skipping those the destination already has. Digests
 * are verified on the way (the client checks every blob and manifest it reads).
 */
export async function copyImage(source: ImageLocation, target: ImageLocation, progress: CopyProgress = {}): Promise<{ digest: string; mediaType: string }> {
  const manifest = await source.client.getManifest(source.repository, source.reference);
  const document = JSON.parse(manifest.bytes.toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  if (Array.isArray(document.manifests)) {
    for (const child of document.manifests) {
      await copyImage({ ...source, reference: child.digest }, { ...target, reference: child.digest }, progress);
    }
  } else {
    if (!document.config) throw new RegistryError(`${source.repository}:${source.reference} is not an image manifest`, 0, 'MANIFEST_INVALID');
    for (const blob of [document.config, ...(document.layers ?? [])]) {
      const sameRegistry = source.client === target.client;
      if (await target.client.headBlob(target.repository, blob.digest)) {
        progress.onBlob?.({ digest: blob.digest, size: blob.size, state: 'skipped' });
        continue;
      }
      progress.onBlob?.({ digest: blob.digest, size: blob.size, state: 'copying' });
      await target.client.pushBlob(target.repository, blob.digest, blob.size, () => source.client.getBlob(source.repository, blob.digest), {
        mountFrom: sameRegistry && source.repository !== target.repository ? source.repository : undefined,
      });
      progress.onBlob?.({ digest: blob.digest, size: blob.size, state: 'copied' });
    }
  }
  await target.client.putManifest(target.repository, target.reference, manifest.bytes, manifest.mediaType);
  return { digest: manifest.digest, mediaType: manifest.mediaType };
}
