import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client, CopyConditions } from 'minio';
import type { BlobListEntry, BlobStat, BlobStore, WriteOptions } from './blob-store';
import { resolveByteRange, type ByteRange } from './byte-range';
import { FULL_S3_CODES, isNotFound, isUnavailable, s3Code } from './s3-errors';
import {
  BlobNotFoundError,
  InvalidKeyError,
  RangeNotSatisfiableError,
  StorageError,
  StorageFullError,
  StorageUnavailableError,
} from './errors';
import { assertValidKey, assertValidPrefix } from './keys';

export interface S3BlobStoreOptions {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
  /** Keys are stored as `<prefix>/<key>`; lets several stores share a bucket. Same syntax as a key. */
  prefix?: string;
  /** Size of multipart upload parts and the most a write holds in memory. Default 16 MiB, minimum 5 MiB. */
  partSize?: number;
  /** How long ping() waits for the server. Default 5000 ms. */
  pingTimeoutMs?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * MiB;
const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;
/** S3 CopyObject handles at most 5 GiB; bigger objects are copied by streaming. */
const MAX_SERVER_SIDE_COPY = 5 * 1024 * MiB;
const MAX_OBJECT_NAME_BYTES = 1024;

/** Marks an error that came from the caller's source stream, so it is rethrown unchanged. */
class SourceStreamFailure {
  constructor(readonly error: unknown) {}
}

/**
 * Blobs as objects in an S3 bucket (AWS, MinIO, s3rver, …) through the `minio` client.
 *
 * Writes buffer at most one part in memory: a source that ends within the first part is
 * sent with one PutObject; longer sources use a multipart upload that is only completed
 * after the source ended cleanly, so a failed source never becomes visible. Concatenation
 * streams the sources through the same path, so it needs neither UploadPartCopy nor
 * ComposeObject (s3rver has neither). The client's own streaming putObject is not used: it
 * resumes "the latest incomplete upload" of a key (ListMultipartUploads + ListParts), which
 * would mix concurrent writers of one key and which s3rver does not support.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  private readonly client: Client;
  private readonly keyPrefix: string;
  private readonly partSize: number;
  private readonly pingTimeoutMs: number;
  private readonly region: string | undefined;

  constructor(options: S3BlobStoreOptions) {
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw new StorageError(`S3 part size must be an integer of at least ${MIN_PART_SIZE} bytes, got ${partSize}`);
    }
    if (options.prefix !== undefined) {
      try {
        assertValidKey(options.prefix);
      } catch (err) {
        throw new StorageError(`invalid S3 key prefix: ${(err as Error).message}`);
      }
    }
    this.bucket = options.bucket;
    this.keyPrefix = options.prefix ? `${options.prefix}/` : '';
    this.partSize = partSize;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 5000;
    this.region = options.region;
    this.client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region,
      // Path-style URLs: virtual-host buckets need DNS for <bucket>.<endpoint>, which local servers lack.
      pathStyle: true,
    });
  }

  /** Connects, creates the bucket when missing, and returns a ready store. */
  static async create(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    const store = new S3BlobStore(options);
    await store.init();
    return store;
  }

  /** Creates the bucket if it does not exist yet. */
  async init(): Promise<void> {
    try {
      if (await this.client.bucketExists(this.bucket)) return;
      await this.client.makeBucket(this.bucket, this.region ?? '');
    } catch (err) {
      // Another process may have created it between the two calls.
      if (s3Code(err) === 'BucketAlreadyOwnedByYou') return;
      throw this.failure('create bucket', this.bucket, err);
    }
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StorageUnavailableError(`S3 endpoint did not answer within ${this.pingTimeoutMs} ms`)),
        this.pingTimeoutMs,
      );
    });
    try {
      const exists = await Promise.race([this.client.bucketExists(this.bucket), timeout]);
      if (!exists) throw new StorageUnavailableError(`S3 bucket ${this.bucket} does not exist`);
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err;
      throw new StorageUnavailableError(`S3 bucket ${this.bucket} is not reachable: ${describe(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  async stat(key: string): Promise<BlobStat | null> {
    const name = this.objectName(key);
    try {
      const info = await this.client.statObject(this.bucket, name);
      return { size: info.size, modifiedAt: info.lastModified };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.failure('stat', key, err);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const name = this.objectName(key);
    try {
      if (!range) return await this.client.getObject(this.bucket, name);
      // Resolve the range against the real size first: servers differ on ranges past the end
      // and on ranges of empty objects; resolveByteRange gives both drivers one behaviour.
      const info = await this.stat(key);
      if (!info) throw new BlobNotFoundError(key);
      const { start, end } = resolveByteRange(key, range, info.size);
      const response = await this.client.getPartialObject(this.bucket, name, start, end - start + 1);
      return exactRange(response, { start, end }, key);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      if (isNotFound(err)) throw new BlobNotFoundError(key, { cause: err });
      if (s3Code(err) === 'InvalidRange') throw new RangeNotSatisfiableError(key, range ?? { start: 0, end: 0 });
      throw this.failure('read', key, err);
    }
  }

  async presignedReadUrl(key: string, expirySeconds: number): Promise<string> {
    if (!Number.isSafeInteger(expirySeconds) || expirySeconds < 1 || expirySeconds > 7 * 24 * 3600) {
      throw new StorageError(`presigned URL expiry must be 1 s to 7 days, got ${expirySeconds}`);
    }
    const name = this.objectName(key);
    try {
      return await this.client.presignedGetObject(this.bucket, name, expirySeconds);
    } catch (err) {
      throw this.failure('presign', key, err);
    }
  }

  // `fresh` changes nothing here: an S3 PUT is atomic already.
  async write(key: string, source: Readable, _options?: WriteOptions): Promise<{ size: number }> {
    return this.upload(key, source);
  }

  async concat(sourceKeys: string[], targetKey: string): Promise<{ size: number }> {
    this.objectName(targetKey);
    sourceKeys.forEach((key) => this.objectName(key));
    for (const key of sourceKeys) {
      if (!(await this.stat(key))) throw new BlobNotFoundError(key);
    }
    const read = (key: string) => this.read(key);
    async function* concatenated() {
      for (const key of sourceKeys) yield* await read(key);
    }
    // Errors from reading the sources are ours (typed), not the caller's: unwrap them.
    return this.upload(targetKey, Readable.from(concatenated()), { sourceIsInternal: true });
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const fromName = this.objectName(fromKey);
    const toName = this.objectName(toKey);
    const info = await this.stat(fromKey);
    if (!info) throw new BlobNotFoundError(fromKey);
    if (fromKey === toKey) return;
    if (info.size > MAX_SERVER_SIDE_COPY) {
      await this.upload(toKey, await this.read(fromKey), { sourceIsInternal: true });
      return;
    }
    try {
      await this.client.copyObject(this.bucket, toName, `/${this.bucket}/${fromName}`, new CopyConditions());
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(fromKey, { cause: err });
      throw this.failure('copy', `${fromKey} → ${toKey}`, err);
    }
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    // S3 has no rename: a server-side copy (atomic for readers of the target), then the delete.
    await this.copy(fromKey, toKey);
    if (fromKey === toKey) return;
    try {
      await this.client.removeObject(this.bucket, this.objectName(fromKey));
    } catch (err) {
      if (!isNotFound(err)) throw this.failure('move', `${fromKey} → ${toKey}`, err);
    }
  }

  async delete(key: string): Promise<boolean> {
    const name = this.objectName(key);
    // S3 DELETE answers 204 whether or not the object existed, so ask first.
    const existed = (await this.stat(key)) !== null;
    try {
      await this.client.removeObject(this.bucket, name);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.failure('delete', key, err);
    }
    return existed;
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    assertValidPrefix(prefix);
    const stream = this.client.listObjectsV2(this.bucket, this.keyPrefix + prefix, true);
    try {
      for await (const item of stream) {
        if (!item.name) continue; // common prefixes do not occur in recursive listings
        yield { key: item.name.slice(this.keyPrefix.length), size: item.size, modifiedAt: item.lastModified };
      }
    } catch (err) {
      throw this.failure('list', prefix, err);
    } finally {
      stream.destroy();
    }
  }

  /** Validates the key and adds the configured prefix. */
  private objectName(key: string): string {
    assertValidKey(key);
    const name = this.keyPrefix + key;
    if (Buffer.byteLength(name) > MAX_OBJECT_NAME_BYTES) {
      throw new InvalidKeyError(key, `with the store prefix it exceeds S3's ${MAX_OBJECT_NAME_BYTES}-byte limit`);
    }
    return name;
  }

  private async upload(key: string, source: Readable, options: { sourceIsInternal?: boolean } = {}): Promise<{ size: number }> {
    const name = this.objectName(key);
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    let uploadId: string | undefined;
    const parts: { part: number; etag: string }[] = [];

    const sendPart = async (part: Buffer) => {
      const partNumber = parts.length + 1;
      if (partNumber > MAX_PARTS) {
        throw new StorageError(`object ${key} exceeds ${MAX_PARTS} parts of ${this.partSize} bytes; raise partSize`);
      }
      uploadId ??= await this.client.initiateNewMultipartUpload(this.bucket, name, {});
      const md5 = createHash('md5').update(part).digest('base64');
      const { etag } = await this.client.uploadPart(
        { bucketName: this.bucket, objectName: name, uploadID: uploadId, partNumber, headers: { 'Content-MD5': md5 } },
        part,
      );
      parts.push({ part: partNumber, etag });
    };

    try {
      for await (const chunk of iterateSource(source)) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string);
        pending.push(bytes);
        pendingBytes += bytes.length;
        total += bytes.length;
        while (pendingBytes >= this.partSize) {
          const joined = Buffer.concat(pending, pendingBytes);
          pending.length = 0;
          pending.push(joined.subarray(this.partSize));
          pendingBytes = joined.length - this.partSize;
          await sendPart(joined.subarray(0, this.partSize));
        }
      }
      const rest = Buffer.concat(pending, pendingBytes);
      if (uploadId === undefined) {
        await this.client.putObject(this.bucket, name, rest, rest.length);
      } else {
        if (rest.length > 0) await sendPart(rest);
        await this.client.completeMultipartUpload(this.bucket, name, uploadId, parts);
      }
      return { size: total };
    } catch (err) {
      if (uploadId !== undefined) {
        // Best effort (s3rver lacks AbortMultipartUpload); an unfinished upload is never visible as an object.
        await this.client.abortMultipartUpload(this.bucket, name, uploadId).catch(() => undefined);
      }
      if (err instanceof SourceStreamFailure) {
        if (options.sourceIsInternal && err.error instanceof StorageError) throw err.error;
        if (options.sourceIsInternal) throw this.failure('write', key, err.error);
        throw err.error;
      }
      if (err instanceof StorageError) throw err;
      throw this.failure('write', key, err);
    }
  }

  private failure(operation: string, subject: string, err: unknown): StorageError {
    const message = `S3 ${operation} of ${subject} in bucket ${this.bucket} failed: ${describe(err)}`;
    if (FULL_S3_CODES.has(s3Code(err) ?? '')) return new StorageFullError(`no space left on the storage: ${message}`, { cause: err });
    return isUnavailable(err) ? new StorageUnavailableError(message, { cause: err }) : new StorageError(message, { cause: err });
  }
}

/** Iterates a source stream, wrapping its errors so they can be told apart from S3 errors. */
async function* iterateSource(source: Readable): AsyncGenerator<unknown> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (err) {
        finished = true;
        throw new SourceStreamFailure(err);
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // Stopped early because the upload failed: destroy the source so its producer stops too.
    if (!finished) await iterator.return?.();
  }
}

/**
 * Returns exactly bytes start..end of a ranged GET. Servers may widen the range: s3rver
 * answers `bytes=0-0` with the whole object, and a server may ignore Range (200, full body).
 * The answered range is taken from Content-Range; surplus bytes are dropped and the download
 * stops as soon as the requested range is complete.
 */
function exactRange(response: Readable, wanted: ByteRange, key: string): Readable {
  const contentRange = (response as Readable & { headers?: Record<string, string | undefined> }).headers?.['content-range'];
  const answeredStart = contentRange ? Number(/^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(contentRange)?.[1]) : 0;
  if (!Number.isSafeInteger(answeredStart) || answeredStart > wanted.start) {
    response.destroy();
    throw new StorageError(`S3 answered range "${contentRange}" for ${key}, which does not cover ${wanted.start}-${wanted.end}`);
  }
  if (contentRange?.startsWith(`bytes ${wanted.start}-${wanted.end}/`)) return response;
  let skip = wanted.start - answeredStart;
  let remaining = wanted.end - wanted.start + 1;
  async function* trimmed() {
    for await (const chunk of response) {
      let bytes = chunk as Buffer;
      if (skip > 0) {
        const dropped = Math.min(skip, bytes.length);
        bytes = bytes.subarray(dropped);
        skip -= dropped;
      }
      if (bytes.length === 0) continue;
      const kept = bytes.subarray(0, remaining);
      remaining -= kept.length;
      yield kept;
      if (remaining === 0) return; // leaving the loop destroys the response
    }
    if (remaining > 0) throw new StorageError(`S3 response for ${key} ended ${remaining} bytes before the requested range`);
  }
  return Readable.from(trimmed(), { objectMode: false });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
