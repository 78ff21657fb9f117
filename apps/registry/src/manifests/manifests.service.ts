import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { deleteManifest, getManifest, INLINE_MANIFEST_LIMIT, listReferrers, listTags, putManifest } from '@muelle/contracts';
import {
  digestOf,
  isNondistributableMediaType,
  isValidTag,
  MAX_MANIFEST_SIZE,
  MediaType,
  parseDigest,
  parseManifest,
} from '@muelle/oci';
import { LOGGER } from '@muelle/service-kit';
import type { BlobStore } from '@muelle/storage';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { RegistryError } from '../errors';
import { reply } from '../http/reply';
import { paginationNumber } from '../http/routes';
import { manifestContentKey } from '../storage/keys';
import { BLOB_STORE } from '../tokens';

const MAX_TAGS_PAGE = 10_000;
const MAX_TAG_PARAMS = 100;

/**
 * Reads a request body into memory with a hard cap: manifests are small documents, and the cap
 * is checked against both the announced length and the bytes actually received (413 over it).
 */
export function readCapped(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new RegistryError('MANIFEST_INVALID', `manifest larger than ${limit} bytes`, undefined, { status: 413 });
  const announced = req.headers['content-length'];
  if (announced !== undefined && Number(announced) > limit) return Promise.reject(tooLarge());
  // Not `for await`: leaving that loop early destroys the request and with it the connection,
  // before the error can be answered.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, total));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** Manifests (end-3/7/9), tags (end-8) and referrers (end-12). Exact bytes are stored and served. */
@Injectable()
export class ManifestsService {
  constructor(
    private readonly bus: BusClient,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async get(res: ServerResponse, name: string, reference: string, head: boolean): Promise<void> {
    const manifest = await this.bus.request(getManifest, { repository: name, reference });
    const headers = {
      'Content-Type': manifest.mediaType,
      'Docker-Content-Digest': manifest.digest,
      ETag: `"${manifest.digest}"`,
      'Content-Length': String(manifest.size),
    };
    if (head) return reply(res, 200, headers);
    const bytes = manifest.content !== undefined ? Buffer.from(manifest.content, 'base64') : await this.readStored(manifest.contentKey!);
    reply(res, 200, headers, bytes);
  }

  async put(req: IncomingMessage, res: ServerResponse, name: string, reference: { tag: string } | { digest: string }, query: URLSearchParams): Promise<void> {
    const bytes = await readCapped(req, MAX_MANIFEST_SIZE);
    const contentType = req.headers['content-type'];
    const parsed = parseManifest(bytes, contentType);
    let digest: string;
    const tags: string[] = [];
    if ('digest' in reference) {
      const { algorithm } = parseDigest(reference.digest);
      digest = digestOf(bytes, algorithm);
      if (digest !== reference.digest) throw new RegistryError('DIGEST_INVALID', `manifest content has digest ${digest}, not ${reference.digest}`);
      // distribution-spec main end-7b: PUT by digest with ?tag=… tags it at once.
      const extra = query.getAll('tag');
      if (extra.length > MAX_TAG_PARAMS) throw new RegistryError('TAG_INVALID', `at most ${MAX_TAG_PARAMS} tag parameters`, undefined, { status: 414 });
      for (const tag of extra) {
        if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', `invalid tag ${JSON.stringify(tag.slice(0, 140))}`);
        tags.push(tag);
      }
    } else {
      digest = digestOf(bytes, 'sha256');
      tags.push(reference.tag);
    }

    // Blobs must be in this repository, except foreign/non-distributable layers, which clients fetch from their urls.
    const blobs = parsed.referencedBlobs.filter((d) => !d.urls?.length && !isNondistributableMediaType(d.mediaType)).map((d) => d.digest);
    const children = parsed.referencedManifests.map((d) => d.digest);
    // Referrers list artifactType, else the config media type of an image manifest (R-DISC-5).
    const artifactType = parsed.artifactType ?? (parsed.kind === 'manifest' ? parsed.config.mediaType : undefined);

    let contentKey: string | undefined;
    if (bytes.length > INLINE_MANIFEST_LIMIT) {
      contentKey = manifestContentKey(digest);
      await this.store.write(contentKey, Readable.from([bytes]));
    }
    let result;
    try {
      result = await this.bus.request(putManifest, {
        repository: name,
        digest,
        mediaType: parsed.mediaType,
        size: bytes.length,
        ...(contentKey ? { contentKey } : { content: bytes.toString('base64') }),
        tags,
        ...(parsed.subject ? { subjectDigest: parsed.subject.digest } : {}),
        ...(artifactType ? { artifactType } : {}),
        ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
        ...(parsed.kind === 'manifest' ? { configDigest: parsed.config.digest } : {}),
        blobs,
        manifests: children,
      });
    } catch (error) {
      if (contentKey) await this.deleteBodies([contentKey]);
      throw error;
    }
    if (result.unusedContentKey) await this.deleteBodies([result.unusedContentKey]);
    const headers: Record<string, string | string[]> = { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest };
    if (parsed.subject) headers['OCI-Subject'] = parsed.subject.digest;
    if ('digest' in reference && tags.length) headers['OCI-Tag'] = tags;
    reply(res, 201, headers);
  }

  async delete(res: ServerResponse, name: string, reference: string): Promise<void> {
    const { deletedContentKeys } = await this.bus.request(deleteManifest, { repository: name, reference });
    await this.deleteBodies(deletedContentKeys);
    reply(res, 202);
  }

  /** A body that cannot be deleted stays an orphan in the store until GC; the request still succeeds. */
  private async deleteBodies(keys: string[]): Promise<void> {
    for (const key of keys) await this.store.delete(key).catch((error) => this.logger.warn({ err: error, key }, 'could not delete manifest body'));
  }

  async tags(res: ServerResponse, name: string, query: URLSearchParams): Promise<void> {
    const n = paginationNumber(query.get('n'), MAX_TAGS_PAGE, MAX_TAGS_PAGE);
    const last = query.get('last') ?? undefined;
    if (last !== undefined && last.length > 128) throw new RegistryError('TAG_INVALID', 'last is not a tag');
    if (n === 0) {
      // Still answer 404 for an unknown repository.
      await this.bus.request(listTags, { repository: name, n: 0, ...(last ? { last } : {}) });
      return reply(res, 200, {}, { name, tags: [] });
    }
    const page = await this.bus.request(listTags, { repository: name, n, ...(last ? { last } : {}) });
    const headers: Record<string, string> = {};
    if (page.hasMore && page.tags.length) {
      headers.Link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page.tags[page.tags.length - 1])}>; rel="next"`;
    }
    reply(res, 200, headers, { name, tags: page.tags });
  }

  async referrers(res: ServerResponse, name: string, digest: string, query: URLSearchParams): Promise<void> {
    const artifactType = query.get('artifactType') || undefined;
    const { manifests } = await this.bus.request(listReferrers, { repository: name, digest, ...(artifactType ? { artifactType } : {}) });
    const headers: Record<string, string> = { 'Content-Type': MediaType.OciIndex };
    if (artifactType) headers['OCI-Filters-Applied'] = 'artifactType';
    reply(res, 200, headers, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests });
  }

  private async readStored(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.store.read(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}

