import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, type Writable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { LayerFormatError, LayerUnsupportedError, OciError } from './errors';
import { LayerApplier, type TarEntry } from './layer-applier';

export { cleanEntryPath } from './layer-applier';

/**
 * Privileged operations Node cannot do without native code (or a child
 * process, which this library may not spawn). The agent/builder pass an
 * implementation backed by libs/isolation; without one, devices and FIFOs are
 * skipped (and reported) and overlay whiteout mode is unavailable.
 *
 * Both receive a path whose parent has already been resolved inside the root
 * and whose final component does not exist (mknod) or was just created by the
 * applier (lsetxattr); they must not follow a final symlink.
 */
export interface PrivilegedFsHooks {
  mknod(targetPath: string, kind: 'char' | 'block' | 'fifo', mode: number, major: number, minor: number): Promise<void>;
  lsetxattr?(targetPath: string, name: string, value: Buffer): Promise<void>;
}

export type WhiteoutMode = 'delete' | 'overlay';

export interface ApplyLayerOptions {
  /**
   * 'delete' (default): apply onto the lower layers' content in `rootDir` —
   * `.wh.<name>` removes `<name>`, `.wh..wh..opq` clears the directory's lower
   * children. 'overlay': `rootDir` is a fresh overlayfs lower dir —
   * whiteouts become char devices 0:0 and opaque markers the
   * `<prefix>.overlay.opaque=y` xattr (needs `hooks.mknod` and `hooks.lsetxattr`).
   */
  whiteoutMode?: WhiteoutMode;
  /** `trusted` (default, real root) or `user` (overlayfs `userxattr`, rootless). */
  overlayXattrNamespace?: 'trusted' | 'user';
  /** Create char/block devices (requires `hooks.mknod`). Default false: they are skipped and reported. */
  allowDevices?: boolean;
  /** lchown entries to their tar uid/gid. Default: true when running as root. */
  preserveOwnership?: boolean;
  /** Apply `SCHILY.xattr.*` PAX records (requires `hooks.lsetxattr`). Default true when the hook exists. */
  applyXattrs?: boolean;
  hooks?: PrivilegedFsHooks;
  /** Abort with LayerFormatError above these (protection against tar/gzip bombs). */
  limits?: { maxEntries?: number; maxFileBytes?: number };
}

export interface SkippedEntry {
  path: string;
  type: string;
  reason: string;
}

export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar stream: the layer's `rootfs.diff_ids` entry. */
  diffId: string;
  /** Bytes of the uncompressed tar stream. */
  tarSize: number;
  compression: 'gzip' | 'none';
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  /** Devices and FIFOs created. */
  specialFiles: number;
  whiteouts: number;
  opaqueDirectories: number;
  /** Regular-file content bytes written. */
  bytes: number;
  skipped: SkippedEntry[];
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/**
 * Extracts one layer (plain or gzip tar, detected from the magic bytes) into
 * `rootDir` without ever touching anything outside it:
 *  - entry names are cleaned lexically against `/`; a `..` that would climb
 *    above the root is refused;
 *  - the parent directory is resolved component by component inside the root
 *    (symlinks — absolute or relative — are followed as if the root were `/`,
 *    like openat2 RESOLVE_IN_ROOT); the final component is never followed:
 *    an existing non-directory (or a dir replaced by a non-dir) is removed first;
 *  - symlink targets are written verbatim (absolute symlinks are legitimate);
 *  - hardlink targets are resolved the same way and must be existing non-directories;
 *  - the root itself is never replaced.
 * Not safe against a concurrent process changing `rootDir` during extraction:
 * unpack into a directory nothing else runs in.
 */
export async function applyLayer(rootDir: string, layer: Readable | AsyncIterable<Uint8Array>, options: ApplyLayerOptions = {}): Promise<ApplyLayerResult> {
  const root = await fs.realpath(path.resolve(rootDir));
  const rootStat = await fs.stat(root);
  if (!rootStat.isDirectory()) throw new LayerFormatError(`layer root ${root} is not a directory`);

  const whiteoutMode = options.whiteoutMode ?? 'delete';
  if (whiteoutMode === 'overlay' && (!options.hooks?.mknod || !options.hooks.lsetxattr)) {
    throw new LayerUnsupportedError('overlay whiteout mode needs hooks.mknod and hooks.lsetxattr (Node has no mknod/setxattr)');
  }

  const source = layer[Symbol.asyncIterator]();
  const head = await readHead(source, ZSTD_MAGIC.length);
  if (startsWith(head, ZSTD_MAGIC)) throw new LayerUnsupportedError('zstd-compressed layers are not supported on this Node version');
  const compression = startsWith(head, GZIP_MAGIC) ? 'gzip' : 'none';

  const raw = Readable.from(replay(head, source), { objectMode: false });
  let tarBytes: AsyncIterable<Buffer> = raw;
  if (compression === 'gzip') {
    const gunzip = zlib.createGunzip();
    pipeline(raw, gunzip, () => undefined); // errors surface through iterating gunzip
    tarBytes = gunzip;
  }

  const applier = new LayerApplier(root, options, whiteoutMode);
  const diffHash = createHash('sha256');
  let tarSize = 0;

  // allowUnknownFormat: accept pre-POSIX (v7) headers too; checksums are still verified.
  const extract = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  let streamError: Error | undefined;
  extract.on('error', (error: Error) => {
    streamError ??= error;
  });

  const producer = (async () => {
    try {
      for await (const chunk of tarBytes) {
        // The consumer gave up (an entry failed) and destroyed the parser, whose 'close' has fired:
        // a write now would wait for a 'drain' that never comes (gunzip may still hold output).
        if (extract.destroyed) return;
        diffHash.update(chunk);
        tarSize += chunk.length;
        if (!extract.write(chunk)) await waitForDrain(extract);
      }
      (extract as unknown as Writable).end();
    } catch (error) {
      streamError ??= error as Error;
      extract.destroy(error as Error);
    }
  })();

  try {
    for await (const entry of extract) {
      await applier.apply(entry as unknown as TarEntry);
    }
  } catch (error) {
    destroyQuietly(extract);
    raw.destroy();
    if (layer instanceof Readable) layer.destroy();
    await producer;
    if (error instanceof OciError) throw error;
    if (streamError !== undefined) throw new LayerFormatError(`unreadable layer stream: ${streamError.message}`);
    throw error;
  }
  await producer;
  if (streamError !== undefined) throw new LayerFormatError(`unreadable layer stream: ${streamError.message}`);
  await applier.finish();

  return { diffId: `sha256:${diffHash.digest('hex')}`, tarSize, compression, ...applier.stats };
}

/** Ends the parser without an error event (an error there would read as a corrupt stream). */
function destroyQuietly(stream: { destroy(error?: Error): void }): void {
  stream.destroy();
}

function waitForDrain(stream: NodeJS.EventEmitter & { destroyed?: boolean }): Promise<void> {
  // Destroyed: its 'close' may have fired already, and no 'drain' will.
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

async function readHead(source: AsyncIterator<Uint8Array>, wanted: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < wanted) {
    const next = await source.next();
    if (next.done) break;
    const chunk = Buffer.from(next.value);
    chunks.push(chunk);
    length += chunk.length;
  }
  return chunks;
}

function startsWith(chunks: Buffer[], magic: number[]): boolean {
  const head = Buffer.concat(chunks);
  return head.length >= magic.length && magic.every((byte, i) => head[i] === byte);
}

async function* replay(head: Buffer[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Buffer> {
  for (const chunk of head) yield chunk;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield Buffer.from(next.value);
  }
}
