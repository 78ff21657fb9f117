import type { Readable, Writable } from 'node:stream';
import type { ByteRange } from './byte-range';

export type { ByteRange } from './byte-range';

export interface BlobStat {
  size: number;
  modifiedAt: Date;
}

export interface BlobListEntry {
  key: string;
  size: number;
  modifiedAt: Date;
}

/**
 * Byte storage addressed by keys such as `blobs/sha256/ab/<hex>` or `uploads/<uuid>/3`
 * (see assertValidKey). Every key argument is validated; a bad key rejects with InvalidKeyError.
 */
export interface WriteOptions {
  fresh?: boolean;
}

export interface BlobStore {
  readonly kind: 'filesystem' | 's3';

  /** Readiness probe: resolves when the backend is usable, rejects with StorageUnavailableError otherwise. */
  ping(): Promise<void>;

  /** Size and modification time, or null when nothing is stored at `key`. */
  stat(key: string): Promise<BlobStat | null>;

  /**
   * Streams the object, or the inclusive `range` of it (an `end` past the last byte is
   * clamped, see resolveByteRange). Rejects with BlobNotFoundError or RangeNotSatisfiableError.
   */
  read(key: string, range?: ByteRange): Promise<Readable>;

  /**
   * Optional fast path for serving (filesystem): writes the object, or the inclusive `range` of
   * it, into `dest` through a few reused buffers, waiting for `dest` to flush each one. `ready`
   * runs once the object is open and before the first byte is written, so a caller can still
   * answer BlobNotFoundError or RangeNotSatisfiableError (thrown before it) with an error of its
   * own. `dest` is not ended. Rejects with CopyAbortedError when `dest` closes or fails first.
   */
  copyTo?(key: string, dest: Writable, range?: ByteRange, ready?: () => void): Promise<void>;

  /**
   * Streams `source` to `key` and replaces any previous object atomically: readers see the
   * old object or the complete new one, never a part. If `source` errors or is destroyed,
   * the write rejects with that error and the previous object (or absence) is left untouched.
   * Concurrent writes to one key both succeed; the last to finish wins.
   *
   * `fresh`: the caller promises the key is new and its own (an upload part under a random
   * name that nothing reads until the caller records it), so a driver may write in place
   * instead of staging and renaming. A failed write still leaves no object. Passing an
   * existing key is a caller's bug: the filesystem driver refuses it (StorageError, the
   * object left as it was); S3 has no cheap way to tell and replaces it.
   */
  write(key: string, source: Readable, options?: WriteOptions): Promise<{ size: number }>;

  /**
   * Writes the concatenation of `sourceKeys` (in the given order) to `targetKey`, streaming
   * and atomically like write(). Sources are left in place. A missing source rejects with
   * BlobNotFoundError and leaves the target untouched. No sources → a 0-byte object.
   */
  concat(sourceKeys: string[], targetKey: string): Promise<{ size: number }>;

  /** Atomically copies an object. Rejects with BlobNotFoundError when `fromKey` is missing. */
  copy(fromKey: string, toKey: string): Promise<void>;

  /**
   * Renames an object: afterwards `toKey` holds the bytes (replaced atomically, like write())
   * and `fromKey` is gone. Cheaper than copy+delete where the backend can rename (filesystem:
   * one rename(2), no bytes copied); S3 has no rename, so it copies server-side and then deletes,
   * and a crash in between leaves both keys. The target's modifiedAt is the time of the move.
   * Moving a key onto itself keeps it. Rejects with
   * BlobNotFoundError when `fromKey` is missing, leaving `toKey` untouched.
   */
  move(fromKey: string, toKey: string): Promise<void>;

  /** Removes the object; true if one was there. Deleting a missing key is not an error. */
  delete(key: string): Promise<boolean>;

  /**
   * Every object whose key starts with `prefix` (a plain string prefix, "" for all).
   * The order is the backend's (the filesystem driver yields ascending keys; S3 servers
   * differ), so callers that need an order sort. An invalid prefix rejects on the first iteration.
   */
  list(prefix: string): AsyncIterable<BlobListEntry>;

  /**
   * A URL that lets its holder GET the object (Range honoured) without credentials for
   * `expirySeconds`, or absent where the backend has none (filesystem). No existence check:
   * a missing key gives a URL that answers 404. Callers hand it out only after authorizing.
   */
  presignedReadUrl?(key: string, expirySeconds: number): Promise<string>;
}
