import { randomUUID } from 'node:crypto';
import { constants as fsConstants, createReadStream, type Dirent } from 'node:fs';
import { access, copyFile, type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { BlobListEntry, BlobStat, BlobStore, WriteOptions } from './blob-store';
import { writeDurably } from './durable-file-writer';
import { resolveByteRange, type ByteRange } from './byte-range';
import { copyFileRange, CopyAbortedError } from './reused-buffer-copy';
import {
  BlobNotFoundError,
  InvalidKeyError,
  StorageError,
  StorageFullError,
  StorageUnavailableError,
} from './errors';
import { assertValidKey, assertValidPrefix } from './keys';

/** Staging directory for in-flight writes, inside the root so that rename() stays on one filesystem. */
const STAGING_DIR = '.tmp';

/**
 * Read buffer for streaming files out. Node's default (64 KiB) costs one read(2), one stream
 * chunk and one socket write per 64 KiB; 1 MiB serves a blob several times faster.
 */
const READ_CHUNK_BYTES = 1024 * 1024;
// A rename can race with delete() pruning the (then empty) target directory; retry a few times.
const COMMIT_ATTEMPTS = 5;

/**
 * Blobs as plain files under `rootDir`: key `a/b/c` is the file `<rootDir>/a/b/c`.
 * Writes stream into `<rootDir>/.tmp/<uuid>`, are fsync'ed and then renamed into place,
 * so readers only ever see complete files.
 *
 * Unlike S3, a key cannot be both an object and a "directory" of other keys
 * (`a` and `a/b`); such a write rejects with StorageError.
 */
export class FilesystemBlobStore implements BlobStore {
  readonly kind = 'filesystem' as const;
  readonly rootDir: string;
  private readonly stagingDir: string;

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
    this.stagingDir = path.join(this.rootDir, STAGING_DIR);
  }

  /** Creates the root and staging directories; returns a ready store. */
  static async create(rootDir: string): Promise<FilesystemBlobStore> {
    const store = new FilesystemBlobStore(rootDir);
    await store.init();
    return store;
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.stagingDir, { recursive: true });
    } catch (err) {
      throw new StorageUnavailableError(`cannot create blob store root ${this.rootDir}: ${describe(err)}`, { cause: err });
    }
  }

  async ping(): Promise<void> {
    try {
      const info = await stat(this.rootDir);
      if (!info.isDirectory()) throw new Error('not a directory');
      await access(this.rootDir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
    } catch (err) {
      throw new StorageUnavailableError(`blob store root ${this.rootDir} is not usable: ${describe(err)}`, { cause: err });
    }
  }

  async stat(key: string): Promise<BlobStat | null> {
    const file = this.pathFor(key);
    try {
      const info = await stat(file);
      return info.isFile() ? { size: info.size, modifiedAt: new Date(info.mtimeMs) } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.failure('stat', key, err);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const { handle, bounds } = await this.openRange('read', key, range);
    return handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES, ...(range ? bounds : {}) });
  }

  async copyTo(key: string, dest: Writable, range?: ByteRange, ready?: () => void): Promise<void> {
    const { handle, bounds } = await this.openRange('read', key, range);
    try {
      ready?.();
      await copyFileRange(handle, bounds.start, bounds.end, dest, READ_CHUNK_BYTES);
    } catch (err) {
      if (err instanceof StorageError || err instanceof CopyAbortedError) throw err;
      throw this.failure('read', key, err);
    } finally {
      // The bytes went out (or the copy's own error is thrown); a failed close of a read-only handle loses nothing.
      await handle.close().catch(() => undefined);
    }
  }

  /** Opens the file and resolves the range against its size (from the handle: a concurrent replace renames a new inode in and cannot affect it). */
  private async openRange(operation: string, key: string, range?: ByteRange): Promise<{ handle: FileHandle; bounds: ByteRange }> {
    const file = this.pathFor(key);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isMissing(err) || errorCode(err) === 'EISDIR') throw new BlobNotFoundError(key, { cause: err });
      throw this.failure(operation, key, err);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new BlobNotFoundError(key);
      // An empty file has no valid range: { 0, -1 } streams and copies nothing.
      return { handle, bounds: range ? resolveByteRange(key, range, info.size) : { start: 0, end: info.size - 1 } };
    } catch (err) {
      await handle.close().catch(() => undefined); // the open's own error is the one to report
      if (err instanceof StorageError) throw err;
      throw this.failure(operation, key, err);
    }
  }

  async write(key: string, source: Readable, options: WriteOptions = {}): Promise<{ size: number }> {
    this.pathFor(key);
    if (options.fresh) return this.writeInPlace(key, source);
    return this.commitAtomically(key, (staged) => writeDurably(staged, source));
  }

  /**
   * A fresh key (see BlobStore.write) is written where it belongs: no staging file, no rename,
   * no directory fsync, which is most of the cost of a small upload chunk. The file's bytes are
   * synced; its name becomes durable with the move or concat that later puts it into use.
   */
  private async writeInPlace(key: string, source: Readable): Promise<{ size: number }> {
    const target = this.pathFor(key);
    await mkdir(path.dirname(target), { recursive: true }).catch((err) => {
      throw this.failure('write', key, err);
    });
    try {
      return { size: await writeDurably(target, source) };
    } catch (err) {
      // EEXIST: the key was not fresh, and what is there is not ours to remove.
      if (errorCode(err) === 'EEXIST') throw new StorageError(`cannot store ${key}: it already exists`, { cause: err });
      await rm(target, { force: true }).catch(() => undefined); // the write's own error is the one to report
      if (isSystemError(err)) throw this.failure('write', key, err);
      throw err;
    }
  }

  async concat(sourceKeys: string[], targetKey: string): Promise<{ size: number }> {
    this.pathFor(targetKey);
    const sources = sourceKeys.map((key) => ({ key, file: this.pathFor(key) }));
    for (const { key } of sources) {
      if (!(await this.stat(key))) throw new BlobNotFoundError(key);
    }
    async function* concatenated() {
      for (const { key, file } of sources) {
        try {
          yield* createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
        } catch (err) {
          // A source removed between the check above and here.
          if (isMissing(err)) throw new BlobNotFoundError(key, { cause: err });
          throw err;
        }
      }
    }
    return this.commitAtomically(targetKey, (staged) => writeDurably(staged, concatenated));
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const from = this.pathFor(fromKey);
    this.pathFor(toKey);
    if (!(await this.stat(fromKey))) throw new BlobNotFoundError(fromKey);
    if (fromKey === toKey) return;
    await this.commitAtomically(toKey, async (staged) => {
      try {
        await copyFile(from, staged, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
      } catch (err) {
        if (isMissing(err)) throw new BlobNotFoundError(fromKey, { cause: err });
        throw err;
      }
      return this.fsyncFile(staged, toKey);
    });
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    const from = this.pathFor(fromKey);
    const to = this.pathFor(toKey);
    if (!(await this.stat(fromKey))) throw new BlobNotFoundError(fromKey);
    if (fromKey === toKey) return;
    // The moved object counts as written now (as after an S3 copy): a garbage collector that
    // reaps old unreferenced objects must not see an upload part's age on a fresh blob.
    const now = new Date();
    await utimes(from, now, now).catch((err) => {
      if (isMissing(err)) throw new BlobNotFoundError(fromKey, { cause: err });
      throw this.failure('move', fromKey, err);
    });
    // The source was fsync'ed when it was written; the rename is atomic and then made durable.
    await this.renameIntoPlace(from, to, toKey, fromKey);
    await this.pruneEmptyParents(path.dirname(from));
  }

  async delete(key: string): Promise<boolean> {
    const file = this.pathFor(key);
    try {
      await unlink(file);
    } catch (err) {
      // EISDIR/EPERM: the key names a directory of other keys, not an object.
      if (isMissing(err) || errorCode(err) === 'EISDIR' || errorCode(err) === 'EPERM') return false;
      throw this.failure('delete', key, err);
    }
    await this.pruneEmptyParents(path.dirname(file));
    return true;
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    assertValidPrefix(prefix);
    // Start at the deepest directory the prefix fully names; filter the rest by string prefix.
    const lastSlash = prefix.lastIndexOf('/');
    const baseKey = lastSlash < 0 ? '' : prefix.slice(0, lastSlash);
    const baseDir = baseKey ? this.pathFor(baseKey) : this.rootDir;
    yield* this.walk(baseDir, baseKey, prefix);
  }

  private async *walk(dir: string, dirKey: string, prefix: string): AsyncGenerator<BlobListEntry> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw this.failure('list', prefix, err);
    }
    // Sorting a directory as "name/" makes the depth-first walk yield keys in ascending order:
    // every key below directory "a" starts with "a/", so it compares against siblings exactly like "a/".
    const sortName = (entry: Dirent) => (entry.isDirectory() ? `${entry.name}/` : entry.name);
    entries.sort((a, b) => (sortName(a) < sortName(b) ? -1 : sortName(a) > sortName(b) ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // staging area and anything that is not a key
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        const asDir = `${key}/`;
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) yield* this.walk(path.join(dir, entry.name), key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        try {
          const info = await stat(path.join(dir, entry.name));
          yield { key, size: info.size, modifiedAt: new Date(info.mtimeMs) };
        } catch (err) {
          if (!isMissing(err)) throw this.failure('list', prefix, err); // deleted meanwhile: skip
        }
      }
    }
  }

  /**
   * Validates the key and maps it below the root. Keys are already restricted by
   * assertValidKey; the containment check is a second line of defence.
   */
  private pathFor(key: string): string {
    assertValidKey(key);
    const resolved = path.resolve(this.rootDir, ...key.split('/'));
    if (!resolved.startsWith(this.rootDir + path.sep) || resolved.startsWith(this.stagingDir + path.sep)) {
      throw new InvalidKeyError(key, 'resolves outside the blob store root');
    }
    return resolved;
  }

  /**
   * Runs `produce` to fill a fresh staging file and fsync it (resolving to its size), then
   * renames it to the key's path.
   */
  private async commitAtomically(key: string, produce: (stagedPath: string) => Promise<number>): Promise<{ size: number }> {
    const target = this.pathFor(key);
    await mkdir(this.stagingDir, { recursive: true }).catch((err) => {
      throw this.failure('write', key, err);
    });
    const staged = path.join(this.stagingDir, randomUUID());
    try {
      let size: number;
      try {
        size = await produce(staged);
      } catch (err) {
        // Source stream errors and our typed errors pass through unchanged; filesystem errors are wrapped.
        if (isSystemError(err)) throw this.failure('write', key, err);
        throw err;
      }
      await this.renameIntoPlace(staged, target, key, null);
      return { size };
    } catch (err) {
      await rm(staged, { force: true }).catch(() => undefined); // the write's error matters; staging leftovers go at the next start
      throw err;
    }
  }

  private async fsyncFile(file: string, key: string): Promise<number> {
    try {
      const handle = await open(file, 'r+');
      try {
        await handle.sync();
        return (await handle.stat()).size;
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw this.failure('write', key, err);
    }
  }

  /**
   * Renames `source` to `target` (the file of `key`), creating the parent directory.
   * `sourceKey` is the key of a source that is itself a stored object (move), null for a
   * staging file: when that source vanishes meanwhile the rename fails with BlobNotFoundError.
   */
  private async renameIntoPlace(source: string, target: string, key: string, sourceKey: string | null): Promise<void> {
    const parent = path.dirname(target);
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(parent, { recursive: true });
        await rename(source, target);
        break;
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOENT' && sourceKey !== null && !(await this.stat(sourceKey))) throw new BlobNotFoundError(sourceKey, { cause: err });
        if (code === 'ENOENT' && attempt < COMMIT_ATTEMPTS) continue;
        if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'ENOTEMPTY') {
          throw new StorageError(
            `cannot store ${key}: the filesystem driver cannot hold both a key and keys below it ("a" and "a/b")`,
            { cause: err },
          );
        }
        throw this.failure('write', key, err);
      }
    }
    // Persist the directory entry too, so the rename survives a crash.
    try {
      const dirHandle = await open(parent, 'r');
      try {
        await dirHandle.sync();
      } finally {
        await dirHandle.close();
      }
    } catch {
      // Some filesystems refuse fsync on directories; the data itself is already durable.
    }
  }

  /** Removes directories left empty by a delete, up to (not including) the root. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    while (dir.startsWith(this.rootDir + path.sep)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty, already gone, or in use by a concurrent write
      }
      dir = path.dirname(dir);
    }
  }

  private failure(operation: string, key: string, err: unknown): StorageError {
    const code = errorCode(err);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new StorageFullError(`no space left on the storage (${this.rootDir}): filesystem ${operation} of ${key} failed with ${code}`, { cause: err });
    }
    if (code === 'EACCES' || code === 'EROFS' || code === 'EIO') {
      return new StorageUnavailableError(`filesystem ${operation} of ${key} failed: ${describe(err)}`, { cause: err });
    }
    return new StorageError(`filesystem ${operation} of ${key} failed: ${describe(err)}`, { cause: err });
  }
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function isSystemError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'syscall' in err;
}

function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
