import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { applyLayer, chainIdsOf, type LayerEntry, writeLayerTar } from '@muelle/oci';
import { copyTree } from './fs-tree';
import { unlessAbsent } from '@muelle/service-kit';
import { CacheLeases, type CacheLease } from './cache-leases';

/** A layer known to the builder: its compressed blob sits in the store under `digest`. */
export interface StoredLayer {
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
}

/**
 * What a cached step produced: maybe a layer, and when it was first built (history `created`,
 * which SOURCE_DATE_EPOCH may set), plus what `listBuildCache` shows. Those fields are optional:
 * records written before them still hit (and list with their history time, admins only).
 */
export interface CacheRecord {
  layer?: StoredLayer;
  created: string;
  /** `team:<id>` or `system` (BuildOptions.cacheScope). */
  scope?: string;
  /** Key of the step this one chains from. */
  parent?: string;
  /** The instruction as written. */
  description?: string;
  createdAt?: string;
  lastUsedAt?: string;
  usageCount?: number;
}

/**
 * Persistent builder state under `<MUELLE_DATA_DIR>/builder`: layer blobs by digest, step cache
 * records by key, unpacked root file systems by chain id (made on demand, reused by later
 * builds), and the overlayfs upper directories of RUN steps by chain id (`diffs/`), which later
 * RUN steps stack as overlay lower layers instead of copying a whole tree. Everything is written to a temporary name and renamed, so a crash leaves no half entry.
 */
export class BuilderStore {
  /** What running builds hold: a prune skips it. */
  readonly leases = new CacheLeases();
  // Serialises a new layer blob's arrival (and its hold) with a prune's blob deletions.
  private blobTurn: Promise<unknown> = Promise.resolve();

  private constructor(readonly root: string) {}

  /** Runs `work` when no other guarded blob work runs (layer arrivals, prune deletions). */
  async guarded<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.blobTurn.then(work);
    // The next turn waits for this one whatever its outcome; the caller gets the outcome.
    this.blobTurn = turn.catch(() => undefined);
    return turn;
  }

  static async open(root: string): Promise<BuilderStore> {
    for (const dir of ['blobs/sha256', 'cache', 'snapshots', 'diffs', 'tmp', 'work']) await fs.mkdir(path.join(root, dir), { recursive: true });
    // Leftovers of a crashed build.
    await fs.rm(path.join(root, 'tmp'), { recursive: true, force: true });
    await fs.rm(path.join(root, 'work'), { recursive: true, force: true });
    await fs.mkdir(path.join(root, 'tmp'), { recursive: true });
    await fs.mkdir(path.join(root, 'work'), { recursive: true });
    return new BuilderStore(root);
  }

  blobPath(digest: string): string {
    return path.join(this.root, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return fs.stat(this.blobPath(digest)).then(() => true, () => false);
  }

  openBlob(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  tempPath(prefix: string): string {
    return path.join(this.root, 'tmp', `${prefix}-${randomBytes(8).toString('hex')}`);
  }

  /** A fresh scratch directory for one step; the caller removes it (or adopts it as a snapshot). */
  async workDir(): Promise<string> {
    const dir = path.join(this.root, 'work', randomBytes(8).toString('hex'));
    await fs.mkdir(dir, { mode: 0o755 });
    return dir;
  }

  /** Stores a blob streamed from `source`, renaming into place once complete. */
  async putBlob(digest: string, source: Readable): Promise<void> {
    if (await this.hasBlob(digest)) {
      source.resume();
      return;
    }
    const temp = this.tempPath('blob');
    await pipeline(source, createWriteStream(temp));
    await fs.rename(temp, this.blobPath(digest));
  }

  async putBytes(digest: string, bytes: Buffer): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const temp = this.tempPath('blob');
    await fs.writeFile(temp, bytes);
    await fs.rename(temp, this.blobPath(digest));
  }

  /**
   * Writes a layer from entries, stores its gzip blob and returns its descriptor data; `lease`
   * holds the blob in the same turn it lands, so a prune cannot delete it under the build.
   */
  async writeLayer(entries: LayerEntry[], sourceDateEpoch?: number, lease?: CacheLease): Promise<StoredLayer> {
    const temp = this.tempPath('layer');
    const result = await writeLayerTar(entries, createWriteStream(temp), { sourceDateEpoch });
    await this.guarded(async () => {
      if (await this.hasBlob(result.digest)) await fs.rm(temp, { force: true });
      else await fs.rename(temp, this.blobPath(result.digest));
      lease?.holdDigest(result.digest);
    });
    return { diffId: result.diffId, digest: result.digest, size: result.size, mediaType: result.mediaType };
  }

  async getCache(key: string): Promise<CacheRecord | undefined> {
    const text = await unlessAbsent(fs.readFile(path.join(this.root, 'cache', `${key}.json`), 'utf8'), undefined);
    if (text === undefined) return undefined;
    const record = JSON.parse(text) as CacheRecord;
    // A record whose layer blob is gone is useless.
    if (record.layer && !(await this.hasBlob(record.layer.digest))) return undefined;
    return record;
  }

  async putCache(key: string, record: CacheRecord): Promise<void> {
    const temp = this.tempPath('cache');
    await fs.writeFile(temp, JSON.stringify(record));
    await fs.rename(temp, path.join(this.root, 'cache', `${key}.json`));
  }

  /** Every cache record with its key (records that cannot be read are skipped: a crash leaves none). */
  async listCache(): Promise<Array<{ key: string; record: CacheRecord }>> {
    const names = (await fs.readdir(path.join(this.root, 'cache'))).filter((name) => name.endsWith('.json'));
    const records = await Promise.all(
      names.map(async (name) => {
        // Deleted by a concurrent prune between readdir and read: not listed.
        const text = await unlessAbsent(fs.readFile(path.join(this.root, 'cache', name), 'utf8'), undefined);
        return text === undefined ? undefined : { key: name.slice(0, -'.json'.length), record: JSON.parse(text) as CacheRecord };
      }),
    );
    return records.filter((r) => r !== undefined);
  }

  async deleteCache(key: string): Promise<void> {
    await fs.rm(path.join(this.root, 'cache', `${key}.json`), { force: true });
  }

  /** Removes a blob; returns the bytes freed (0 when it was already gone). */
  async deleteBlob(digest: string): Promise<number> {
    const stat = await unlessAbsent(fs.stat(this.blobPath(digest)), undefined);
    if (!stat) return 0;
    await fs.rm(this.blobPath(digest), { force: true });
    return stat.size;
  }

  private snapshotPath(layers: StoredLayer[]): string {
    const chainId = layers.length === 0 ? 'sha256:empty' : (chainIdsOf(layers.map((l) => l.diffId)).at(-1) as string);
    return path.join(this.root, 'snapshots', chainId.replace(/^sha256:/, ''));
  }

  /**
   * The unpacked root file system of `layers` (read only by convention). Made from the deepest
   * existing snapshot plus the remaining layers applied in order with the safe applier.
   */
  async snapshot(layers: StoredLayer[]): Promise<string> {
    const target = this.snapshotPath(layers);
    if (await exists(target)) return target;
    let start = layers.length - 1;
    while (start > 0 && !(await exists(this.snapshotPath(layers.slice(0, start))))) start--;
    const work = await this.workDir();
    try {
      if (start > 0) await copyTree(this.snapshotPath(layers.slice(0, start)), work);
      for (const layer of layers.slice(Math.max(start, 0))) await applyLayer(work, this.openBlob(layer.digest), { preserveOwnership: true });
      return await this.adoptSnapshot(work, layers);
    } catch (error) {
      await fs.rm(work, { recursive: true, force: true });
      throw error;
    }
  }

  private diffPath(layers: StoredLayer[]): string {
    return path.join(this.root, 'diffs', (chainIdsOf(layers.map((l) => l.diffId)).at(-1) as string).replace(/^sha256:/, ''));
  }

  /**
   * Overlay lower directories (top-most first) that show the root file system of `layers`: the
   * upper dirs of the RUN steps on top, down to an unpacked snapshot. Stacks deeper than
   * MAX_STACKED_DIFFS are flattened into a snapshot instead (mount options are limited to a page).
   */
  async lowerDirs(layers: StoredLayer[]): Promise<string[]> {
    const dirs: string[] = [];
    let depth = layers.length;
    while (depth > 0 && dirs.length < MAX_STACKED_DIFFS) {
      const prefix = layers.slice(0, depth);
      if (await exists(this.snapshotPath(prefix))) break;
      const diff = this.diffPath(prefix);
      if (!(await exists(diff))) break;
      dirs.push(diff);
      depth--;
    }
    if (dirs.length === MAX_STACKED_DIFFS && depth > 0 && !(await exists(this.snapshotPath(layers.slice(0, depth))))) {
      return [await this.snapshot(layers)];
    }
    dirs.push(await this.snapshot(layers.slice(0, depth)));
    return dirs;
  }

  /** Keeps a RUN step's overlay upper directory as the diff of `layers` (whose last layer it made). */
  async adoptDiff(upper: string, layers: StoredLayer[]): Promise<void> {
    try {
      await fs.rename(upper, this.diffPath(layers));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      await fs.rm(upper, { recursive: true, force: true });
    }
  }

  /** Keeps a finished step's work directory as the snapshot of `layers` (or drops it if one exists). */
  async adoptSnapshot(work: string, layers: StoredLayer[]): Promise<string> {
    const target = this.snapshotPath(layers);
    try {
      await fs.rename(work, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      await fs.rm(work, { recursive: true, force: true });
    }
    return target;
  }
}

/** ~100-byte paths: 16 of them stay well inside the overlay's one-page option limit. */
const MAX_STACKED_DIFFS = 16;

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}
