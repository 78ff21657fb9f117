import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { InvalidArgumentError, MuelleError } from '@muelle/contracts';
import { formatReference } from '@muelle/oci';
import { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import { requireTarContext } from '../http/tar-context';
import { RepositoryAccess } from '../repositories/repository-access';
import { ImageCatalog, untaggedBuildTag } from './image-catalog';
import type { ArchiveManifestEntry } from './image-save';
import { registryCall } from './registry-errors';

/** The largest archive one load stages (its blobs wait in a temporary folder until manifest.json, which comes last). */
const MAX_ARCHIVE_BYTES = 16 * 1024 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface Staged {
  dir: string;
  /** Archive path → staged file (symlinks already followed inside the archive). */
  files: Map<string, string>;
}

/**
 * `docker load` / `muelle load`: a docker-archive (dockerd 20.10's `<id>/layer.tar` form or 25+'s
 * OCI-layout form) pushed into Muelle's registry as the caller, each name in `RepoTags` needing
 * push on its repository (a nameless image goes to the caller's `untagged` repository, as a build
 * without `-t`). The config blob is pushed unchanged, so the image id (its digest) is the one the
 * archive had. Departure: `manifest.json` comes last in the tar, so the blobs are staged in a
 * temporary folder of the api for the request's duration (removed after, at most 16 GiB).
 */
@Injectable()
export class ImageLoad {
  constructor(
    private readonly catalog: ImageCatalog,
    private readonly access: RepositoryAccess,
    private readonly audit: AuditLog,
  ) {}

  /** Calls `say` with one line per loaded name (`Loaded image: busybox:1`, or `Loaded image ID: sha256:…`). */
  async load(principal: RequestPrincipal, body: Readable, say: (line: string) => void): Promise<void> {
    const staged = await stage(await requireTarContext(body, 'the archive to load', false));
    try {
      const manifestFile = staged.files.get('manifest.json');
      if (!manifestFile) throw new InvalidArgumentError('the archive has no manifest.json: not a docker-archive (docker save) tar');
      if ((await stat(manifestFile)).size > MAX_MANIFEST_BYTES) throw new InvalidArgumentError('manifest.json is larger than 4 MiB');
      let entries: ArchiveManifestEntry[];
      try {
        entries = JSON.parse(await readFile(manifestFile, 'utf8')) as ArchiveManifestEntry[];
      } catch {
        throw new InvalidArgumentError('manifest.json of the archive is not valid JSON');
      }
      if (!Array.isArray(entries) || !entries.length) throw new InvalidArgumentError('manifest.json of the archive lists no image');
      for (const entry of entries) await this.loadOne(principal, staged, entry, say);
    } finally {
      await rm(staged.dir, { recursive: true, force: true });
    }
  }

  private async loadOne(principal: RequestPrincipal, staged: Staged, entry: ArchiveManifestEntry, say: (line: string) => void): Promise<void> {
    const fileOf = (path: unknown) => {
      const file = typeof path === 'string' ? staged.files.get(posix.normalize(path)) : undefined;
      if (!file) throw new InvalidArgumentError(`manifest.json names ${JSON.stringify(path)}, which is not in the archive`);
      return file;
    };
    if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers)) throw new InvalidArgumentError('manifest.json: every image needs Config and Layers');
    const config = await describe(fileOf(entry.Config), 'application/vnd.oci.image.config.v1+json');
    const layers = await Promise.all(entry.Layers.map(async (path) => describe(fileOf(path), undefined)));
    const names = (entry.RepoTags ?? []).filter((t): t is string => typeof t === 'string');
    const targets = names.length ? await Promise.all(names.map((name) => this.catalog.findLocal(principal, name))) : [untaggedBuildTag(principal, this.catalog.registry)];
    for (const target of targets) await this.access.require(principal, 'push', target.repository, { notFound: `no such repository: ${target.repository}` });
    const client = this.catalog.registryClient(principal);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    );
    for (const target of targets) {
      for (const blob of [config, ...layers]) await registryCall(client.pushBlob(target.repository, blob.digest, blob.size, () => createReadStream(blob.file)));
      const tag = target.tag ?? 'latest';
      await registryCall(client.putManifest(target.repository, tag, manifest, 'application/vnd.oci.image.manifest.v1+json'));
      await this.audit.record(principal, 'image.load', `image:${formatReference({ ...target, tag })}`, { id: config.digest });
    }
    if (names.length) for (const name of names) say(`Loaded image: ${name}`);
    else say(`Loaded image ID: ${config.digest}`);
  }
}

/** A staged blob: its digest, size and media type (layers: gzip or plain tar, from the magic bytes). */
async function describe(file: string, mediaType: string | undefined): Promise<{ file: string; digest: string; size: number; mediaType: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  let type = mediaType;
  if (!type) {
    const handle = await open(file, 'r');
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0).finally(() => handle.close());
    type = head[0] === 0x1f && head[1] === 0x8b ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar';
  }
  return { file, digest: `sha256:${hash.digest('hex')}`, size, mediaType: type };
}

/** Reads the archive into a temporary folder: regular files by number, symlinks followed inside the archive. */
async function stage(archive: Readable): Promise<Staged> {
  const dir = await mkdtemp(join(tmpdir(), 'muelle-load-'));
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  let total = 0;
  try {
    const extract = tar.extract();
    const feeding = pipeline(archive, extract as unknown as NodeJS.WritableStream).catch((error: Error) => extract.destroy(error));
    for await (const item of extract) {
      const name = posix.normalize(item.header.name).replace(/^\.\//, '').replace(/\/$/, '');
      if (name.startsWith('..') || name.startsWith('/')) throw new InvalidArgumentError(`the archive entry ${item.header.name} points outside the archive`);
      if (item.header.type === 'file' || item.header.type === 'contiguous-file') {
        total += item.header.size ?? 0;
        if (total > MAX_ARCHIVE_BYTES) throw new InvalidArgumentError('the archive is larger than 16 GiB');
        const file = join(dir, String(files.size));
        await pipeline(item, createWriteStream(file, { mode: 0o600 }));
        files.set(name, file);
      } else {
        // docker 20.10 links layers shared by two images (`<id>/layer.tar -> ../<other>/layer.tar`).
        if (item.header.type === 'symlink' && item.header.linkname) links.set(name, posix.normalize(posix.join(posix.dirname(name), item.header.linkname)));
        item.resume();
      }
    }
    await feeding;
    for (const [name, target] of links) {
      const file = files.get(target);
      if (file) files.set(name, file);
    }
    return { dir, files };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    if (error instanceof MuelleError || (error as NodeJS.ErrnoException).code === 'ENOSPC') throw error;
    throw new InvalidArgumentError(`the archive is not a readable tar: ${(error as Error).message}`);
  }
}
