import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import {
  advanceUpload,
  commitBlob,
  ConflictError,
  createUpload,
  deleteBlob,
  deleteUpload,
  getUpload,
  mountBlob,
  NotFoundError,
  statBlob,
  UploadPart,
  UploadSession,
} from '@muelle/contracts';
import { parseDigest } from '@muelle/oci';
import { LOGGER } from '@muelle/service-kit';
import { type BlobStore, BlobNotFoundError } from '@muelle/storage';
import { randomUUID, type Hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Transform } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Principal } from '../auth/registry-auth.service';
import { RegistryError } from '../errors';
import { reply, uploadRange } from '../http/reply';
import { digestParam, nameParam, parseBlobRange, parseChunkRange } from '../http/routes';
import { blobKey, uploadPartKey } from '../storage/keys';
import type { RegistryConfig } from '../config';
import { BLOB_STORE, REGISTRY_CONFIG } from '../tokens';
import { RecentUploadSessions, UploadHashers } from './upload-hashers';

const uploadLocation = (name: string, id: string) => `/v2/${name}/blobs/uploads/${id}`;
const blobLocation = (name: string, digest: string) => `/v2/${name}/blobs/${digest}`;

/** True when the request carries a body (a length above 0, or chunked transfer encoding). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * Blob reads, deletes and uploads. Bytes stream from the request to the blob store while being
 * hashed; the session (offset, parts) lives in metadata, so any replica can continue an upload
 * (see UploadHashers for how the running hash follows). Nothing becomes visible under a digest
 * before it is verified.
 */
@Injectable()
export class BlobsService {
  private readonly hashers: UploadHashers;
  private readonly recent = new RecentUploadSessions();

  constructor(
    private readonly bus: BusClient,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
  ) {
    this.hashers = new UploadHashers(store);
  }

  // ------------------------------------------------------------ pull (end-2) and delete (end-10)

  async get(req: IncomingMessage, res: ServerResponse, name: string, digest: string, head: boolean): Promise<void> {
    const { size } = await this.bus.request(statBlob, { repository: name, digest });
    if (!head && this.config.MUELLE_REGISTRY_S3_REDIRECT && this.store.presignedReadUrl) {
      // The route authorized this pull (decide()) and statBlob proved the blob is this
      // repository's; the client re-sends its Range to S3, which answers 206/416 itself.
      const url = await this.store.presignedReadUrl(blobKey(digest), this.config.MUELLE_REGISTRY_S3_REDIRECT_SECONDS);
      return reply(res, 307, { Location: url, 'Docker-Content-Digest': digest, 'Cache-Control': 'no-store' });
    }
    const headers: Record<string, string> = {
      'Docker-Content-Digest': digest,
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: `"${digest}"`,
      'Cache-Control': 'max-age=31536000',
    };
    const range = parseBlobRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      throw new RegistryError('RANGE_INVALID', `range ${req.headers.range} not satisfiable for ${size} bytes`, undefined, {
        headers: { 'Content-Range': `bytes */${size}` },
      });
    }
    const status = range ? 206 : 200;
    const length = range ? range.end - range.start + 1 : size;
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
    if (head) {
      // Prove the bytes are there, so a HEAD never promises what a GET cannot deliver.
      if (!(await this.store.stat(blobKey(digest)))) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} content missing`);
      return reply(res, status, { ...headers, 'Content-Length': String(length) });
    }
    const send = () => {
      res.statusCode = status;
      res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      res.setHeader('Content-Length', String(length));
    };
    try {
      if (this.store.copyTo) {
        await this.store.copyTo(blobKey(digest), res, range ?? undefined, send);
        res.end();
        return;
      }
      const body = await this.store.read(blobKey(digest), range ?? undefined);
      send();
      await pipelineAsync(body, res);
    } catch (error) {
      // Nothing sent yet: the error answer must not carry the blob's headers.
      if (!res.headersSent) for (const name of [...Object.keys(headers), 'Content-Length']) res.removeHeader(name);
      if (error instanceof BlobNotFoundError) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} content missing`);
      throw error;
    }
  }

  async delete(res: ServerResponse, name: string, digest: string): Promise<void> {
    await this.bus.request(deleteBlob, { repository: name, digest });
    reply(res, 202, { 'Docker-Content-Digest': digest });
  }

  // ------------------------------------------------------------ uploads (end-4a/4b/5/6/11/13/14)

  async startUpload(req: IncomingMessage, res: ServerResponse, name: string, query: URLSearchParams, principal: Principal, canPull: (repo: string) => boolean): Promise<void> {
    const mount = query.get('mount');
    if (mount !== null) {
      const digest = digestParam(mount);
      const from = nameParam(query.get('from'));
      // Mount needs pull on the source; otherwise (or when it lacks the blob) a normal upload starts: 202, never 201.
      if (from && canPull(from)) {
        const result = await this.bus.request(mountBlob, { repository: name, from, digest });
        if (result.mounted && (await this.store.stat(blobKey(digest)))) {
          return reply(res, 201, { Location: blobLocation(name, digest), 'Docker-Content-Digest': digest });
        }
      }
    }
    const id = randomUUID();
    let session = await this.bus.request(createUpload, { id, repository: name, principal: principal.subject || null });
    this.recent.remember(session);
    const digest = query.get('digest');
    if (digest !== null) {
      // Single POST: body and digest at once (end-4b).
      const expected = digestParam(digest);
      if (hasBody(req)) session = await this.receiveChunk(req, session);
      return this.commit(res, name, session, expected);
    }
    req.resume();
    reply(res, 202, { Location: uploadLocation(name, id), Range: '0-0', 'Docker-Upload-UUID': id });
  }

  async status(res: ServerResponse, name: string, id: string): Promise<void> {
    const session = await this.session(name, id);
    reply(res, 204, { Location: uploadLocation(name, id), Range: uploadRange(session.offset), 'Docker-Upload-UUID': id });
  }

  async patch(req: IncomingMessage, res: ServerResponse, name: string, id: string): Promise<void> {
    const recent = this.recentSession(name, id);
    const session = await this.receiveChunk(req, recent ?? (await this.session(name, id)), recent !== undefined);
    reply(res, 202, { Location: uploadLocation(name, id), Range: uploadRange(session.offset), 'Docker-Upload-UUID': id });
  }

  async put(req: IncomingMessage, res: ServerResponse, name: string, id: string, query: URLSearchParams): Promise<void> {
    const digestValue = query.get('digest');
    if (digestValue === null) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required to close an upload');
    const expected = digestParam(digestValue);
    const recent = this.recentSession(name, id);
    const session = recent ?? (await this.session(name, id));
    if (hasBody(req)) return this.commit(res, name, await this.receiveChunk(req, session, recent !== undefined), expected);
    req.resume();
    await this.commit(res, name, session, expected, recent !== undefined);
  }

  async cancel(res: ServerResponse, name: string, id: string): Promise<void> {
    await this.session(name, id);
    await this.dropSession(id);
    reply(res, 204);
  }

  /** This replica's last view of the session (see RecentUploadSessions), if it belongs to `name`. */
  private recentSession(name: string, id: string): UploadSession | undefined {
    const session = this.recent.get(id);
    return session?.repository === name ? session : undefined;
  }

  /** The session as metadata has it now, bound to the repository it was started for (SEC-1). */
  private async session(name: string, id: string): Promise<UploadSession> {
    try {
      const session = await this.bus.request(getUpload, { id });
      if (session.repository !== name) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} not known in ${name}`);
      return session;
    } catch (error) {
      if (error instanceof NotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} not known`);
      throw error;
    }
  }

  /**
   * Streams one chunk into its own part object while hashing, then advances the session with a
   * compare-and-set on the offset: an out-of-order or replayed chunk (or a racing replica) gets
   * 416 and its part is deleted. `maybeStale`: the session is this replica's last view, which
   * another replica may have moved on; it is re-read before anything is refused.
   */
  private async receiveChunk(req: IncomingMessage, session: UploadSession, maybeStale = false): Promise<UploadSession> {
    const range = parseChunkRange(header(req, 'content-range'));
    const rangeError = (message: string) => outOfOrder(session, session.offset, message);
    if (range === 'invalid') {
      req.resume();
      throw rangeError('malformed Content-Range');
    }
    if (range && range.start !== session.offset) {
      if (maybeStale) return this.receiveChunk(req, await this.session(session.repository, session.id));
      req.resume();
      throw rangeError(`chunk starts at ${range.start} but the upload is at ${session.offset}`);
    }
    const hash = await this.hashers.claim(session.id, session.offset, session.parts);
    const key = uploadPartKey(session.id, session.offset);
    let size = 0;
    const hashing = new Transform({
      // Same buffering as the store's file writes, so the hash step does not throttle the upload to 16 KiB.
      highWaterMark: 1024 * 1024,
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const source = pipeline(req, hashing, () => undefined);
    try {
      await this.store.write(key, source, { fresh: true });
    } catch (error) {
      // The hasher saw bytes that were not kept: it is dropped, the next request rebuilds it.
      this.hashers.forget(session.id);
      throw error;
    }
    if (size === 0) {
      await this.deleteKeys([key]);
      this.hashers.release(session.id, session.offset, hash);
      // Nothing to append; an answer must still tell where the upload stands.
      return maybeStale ? this.session(session.repository, session.id) : session;
    }
    if (range && range.end - range.start + 1 !== size) {
      await this.deleteKeys([key]);
      throw new RegistryError('SIZE_INVALID', `Content-Range announced ${range.end - range.start + 1} bytes, received ${size}`);
    }
    const part: UploadPart = { key, size };
    try {
      const advanced = await this.bus.request(advanceUpload, { id: session.id, expectedOffset: session.offset, part });
      this.hashers.release(session.id, advanced.offset, hash);
      this.recent.remember(advanced);
      return advanced;
    } catch (error) {
      // A streamed chunk (no Content-Range) belongs wherever the upload is now: append it there.
      if (error instanceof ConflictError && maybeStale && !range) return this.appendStoredPart(session, part);
      await this.deleteKeys([key]);
      if (error instanceof ConflictError) throw outOfOrder(session, conflictOffset(error, session.offset), error.message);
      if (error instanceof NotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${session.id} not known`);
      throw error;
    }
  }

  /**
   * Adds a part already in the store to the session as metadata has it now (this replica's view
   * was old), with the hasher rebuilt from the stored parts.
   */
  private async appendStoredPart(stale: UploadSession, part: UploadPart): Promise<UploadSession> {
    this.hashers.forget(stale.id);
    try {
      const current = await this.session(stale.repository, stale.id);
      const hash = await this.hashers.rebuild('sha256', [...current.parts, part]);
      const advanced = await this.bus.request(advanceUpload, { id: current.id, expectedOffset: current.offset, part });
      this.hashers.release(current.id, advanced.offset, hash);
      this.recent.remember(advanced);
      return advanced;
    } catch (error) {
      await this.deleteKeys([part.key]);
      if (error instanceof ConflictError) throw outOfOrder(stale, conflictOffset(error, stale.offset), error.message);
      throw error;
    }
  }

  /**
   * Verifies the whole upload against `expected`, moves it into the CAS, records it in metadata.
   * `maybeStale` as for receiveChunk: a mismatch is checked against the current session first.
   */
  private async commit(res: ServerResponse, name: string, session: UploadSession, expected: string, maybeStale = false): Promise<void> {
    const { algorithm } = parseDigest(expected);
    let hash: Hash;
    if (algorithm === 'sha256') hash = await this.hashers.claim(session.id, session.offset, session.parts);
    else {
      this.hashers.forget(session.id);
      hash = await this.hashers.rebuild(algorithm, session.parts);
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (actual !== expected) {
      if (maybeStale) {
        // Only a session that moved on elsewhere deserves a second look; same offset, same bytes.
        const current = await this.session(name, session.id);
        if (current.offset !== session.offset) return this.commit(res, name, current, expected);
      }
      await this.dropSession(session.id);
      throw new RegistryError('DIGEST_INVALID', `uploaded content has digest ${actual}, not ${expected}`);
    }
    const key = blobKey(expected);
    const existing = await this.store.stat(key);
    let moved: string | undefined;
    if (!existing || existing.size !== session.offset) {
      const parts = session.parts.map((p) => p.key);
      // One part (the usual monolithic or streamed push) is renamed into place, not copied.
      try {
        if (parts.length === 1) await this.store.move((moved = parts[0]), key);
        else await this.store.concat(parts, key);
      } catch (error) {
        // A racing close of the same session already took the part.
        if (error instanceof BlobNotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${session.id} was closed concurrently`);
        throw error;
      }
    }
    // One metadata call records the blob and closes the session (one round trip, one statement).
    // The bytes are in place, so the session is done whatever the commit answers: a refused
    // commit leaves the session in metadata, and it is dropped separately.
    this.hashers.forget(session.id);
    this.recent.forget(session.id);
    let committed;
    try {
      committed = await this.bus.request(commitBlob, { repository: name, digest: expected, size: session.offset, upload: session.id });
    } catch (error) {
      await this.dropSession(session.id, moved);
      throw error;
    }
    await this.deleteKeys((committed.closedParts ?? []).map((p) => p.key).filter((key) => key !== moved));
    reply(res, 201, { Location: blobLocation(name, expected), 'Docker-Content-Digest': expected, 'Docker-Upload-UUID': session.id });
  }

  /**
   * Forgets the session and deletes its parts (except `movedPart`, already renamed into the CAS);
   * failures only leave garbage for the purge.
   */
  async dropSession(id: string, movedPart?: string): Promise<void> {
    this.hashers.forget(id);
    this.recent.forget(id);
    try {
      const { parts } = await this.bus.request(deleteUpload, { id });
      await this.deleteKeys(parts.map((p) => p.key).filter((key) => key !== movedPart));
    } catch (error) {
      if (!(error instanceof NotFoundError)) this.logger.warn({ err: error, upload: id }, 'could not drop upload session');
    }
  }

  async deleteKeys(keys: string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.store.delete(key).catch((error) => this.logger.warn({ err: error, key }, 'could not delete upload part'))));
  }
}

/** 416 for a chunk that does not continue the upload, telling the client where it stands. */
function outOfOrder(session: UploadSession, offset: number, message: string): RegistryError {
  return new RegistryError('RANGE_INVALID', message, undefined, {
    headers: { Location: uploadLocation(session.repository, session.id), Range: uploadRange(offset), 'Docker-Upload-UUID': session.id },
  });
}

/** The offset metadata reported with a failed compare-and-set. */
function conflictOffset(error: ConflictError, fallback: number): number {
  return Number((error.details as { offset?: number })?.offset ?? fallback);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
