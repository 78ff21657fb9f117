import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { InvalidArgumentError } from '@muelle/contracts';
import { familiarName } from '@muelle/images';
import type { RequestPrincipal } from '../auth/principal';
import { ImageCatalog } from './image-catalog';
import { registryCall } from './registry-errors';

/** One image in a docker-archive's `manifest.json`. */
export interface ArchiveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;

/**
 * `docker save` / `muelle save`: a docker-archive as dockerd 25+ writes it — the blobs in an OCI
 * layout (`oci-layout`, `index.json`, `blobs/sha256/…`) plus Docker's `manifest.json` and
 * `repositories` naming the same files — made from Muelle's registry as the caller (its pull
 * grants bind every read). The blobs are the registry's own bytes (layers stay compressed, which
 * `docker load` accepts), so the config digest, Docker's image id, is the same after a load.
 */
@Injectable()
export class ImageSave {
  constructor(private readonly catalog: ImageCatalog) {}

  async save(principal: RequestPrincipal, names: string[], out: Writable, onReady: () => void): Promise<void> {
    if (!names.length) throw new InvalidArgumentError('no image to save: name at least one');
    // Everything is resolved before the first byte, so a missing image is an ordinary 404.
    const images = await Promise.all(names.map(async (name) => ({ name, image: await this.catalog.resolve(principal, name) })));
    const plans = await Promise.all(images.map(async ({ name, image }) => ({ name, image, manifest: await this.catalog.manifestOf(principal, image) })));
    onReady();
    const pack = tar.pack();
    const sending = pipeline(pack as unknown as NodeJS.ReadableStream, out);
    const client = this.catalog.registryClient(principal);
    const written = new Set<string>();
    const entries: ArchiveManifestEntry[] = [];
    const index: Array<Record<string, unknown>> = [];
    const repositories: Record<string, Record<string, string>> = {};
    await entry(pack, { name: 'blobs/', type: 'directory', mode: 0o755 });
    await entry(pack, { name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
    for (const { name, image, manifest } of plans) {
      const { config, layers } = manifest.document;
      for (const blob of [config, ...layers]) {
        if (written.has(blob.digest)) continue;
        written.add(blob.digest);
        const body = await registryCall(client.getBlob(image.repository, blob.digest));
        await pipeline(body, pack.entry({ name: blobPath(blob.digest), size: blob.size, mode: 0o644 }) as unknown as NodeJS.WritableStream);
      }
      if (!written.has(manifest.digest)) {
        written.add(manifest.digest);
        await entry(pack, { name: blobPath(manifest.digest), mode: 0o644 }, manifest.bytes);
      }
      // Saved by id or digest: no name, as Docker does; by name: that name, in Docker's familiar form.
      const repoTags = this.repoTagOf(name);
      entries.push({ Config: blobPath(config.digest), RepoTags: repoTags.length ? repoTags : null, Layers: layers.map((l) => blobPath(l.digest)) });
      index.push({
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.bytes.length,
        ...(repoTags[0] ? { annotations: { 'io.containerd.image.name': repoTags[0], 'org.opencontainers.image.ref.name': repoTags[0].slice(repoTags[0].lastIndexOf(':') + 1) } } : {}),
      });
      for (const tag of repoTags) {
        const colon = tag.lastIndexOf(':');
        const last = layers[layers.length - 1];
        if (last) (repositories[tag.slice(0, colon)] ??= {})[tag.slice(colon + 1)] = last.digest.slice('sha256:'.length);
      }
    }
    await entry(pack, { name: 'index.json', mode: 0o644 }, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index }));
    await entry(pack, { name: 'manifest.json', mode: 0o644 }, JSON.stringify(entries));
    await entry(pack, { name: 'oci-layout', mode: 0o644 }, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (Object.keys(repositories).length) await entry(pack, { name: 'repositories', mode: 0o644 }, JSON.stringify(repositories));
    pack.finalize();
    await sending;
  }

  private repoTagOf(name: string): string[] {
    if (this.catalog.isImageId(name)) return [];
    const ref = this.catalog.localReference(name);
    if (ref.digest && !ref.tag) return [];
    return [familiarName({ ...ref, digest: undefined, tag: ref.tag ?? 'latest' }, this.catalog.registry)];
  }
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body?: string | Buffer): Promise<void> {
  const content = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const done = (error?: Error | null) => (error ? reject(error) : resolve());
    if (content) pack.entry({ ...header, size: content.length }, content, done);
    else pack.entry(header, done);
  });
}

/** Answers with the archive (both doors); an error after the first byte cuts the connection, which `docker load` reports as a truncated tar. */
export async function sendImageArchive(saver: ImageSave, principal: RequestPrincipal, names: string[], res: Response): Promise<void> {
  try {
    await saver.save(principal, names, res, () => {
      res.status(200).setHeader('Content-Type', 'application/x-tar');
      res.flushHeaders();
    });
  } catch (error) {
    if (!res.headersSent) throw error;
    res.destroy();
  }
}
