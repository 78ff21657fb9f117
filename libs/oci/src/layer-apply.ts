import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, type Writable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { LayerFormatError, LayerUnsupportedError, OciError, UnsafeLayerEntryError } from './errors';

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

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** Same bound as the kernel's path resolution. */
const MAX_SYMLINK_FOLLOWS = 40;
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
        diffHash.update(chunk);
        tarSize += chunk.length;
        if (!extract.write(chunk)) await waitForDrain(extract);
        if (extract.destroyed) return;
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

/** One archive member as tar-stream yields it. */
type TarEntry = AsyncIterable<Buffer> & { header: tar.Header };

type Stats = Omit<ApplyLayerResult, 'diffId' | 'tarSize' | 'compression'>;

class LayerApplier {
  readonly stats: Stats = {
    entries: 0,
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    specialFiles: 0,
    whiteouts: 0,
    opaqueDirectories: 0,
    bytes: 0,
    skipped: [],
  };
  /** Host paths created or updated by this layer: whiteouts and opaque markers must spare them. */
  private readonly unpacked = new Set<string>();
  private readonly directoryTimes: Array<{ hostPath: string; mtime: Date }> = [];
  private readonly preserveOwnership: boolean;
  private readonly applyXattrs: boolean;

  constructor(
    private readonly root: string,
    private readonly options: ApplyLayerOptions,
    private readonly whiteoutMode: WhiteoutMode,
  ) {
    this.preserveOwnership = options.preserveOwnership ?? process.getuid?.() === 0;
    this.applyXattrs = (options.applyXattrs ?? true) && options.hooks?.lsetxattr !== undefined;
  }

  async apply(entry: TarEntry): Promise<void> {
    const header = entry.header;
    const name = header.name;
    this.stats.entries += 1;
    const maxEntries = this.options.limits?.maxEntries;
    if (maxEntries !== undefined && this.stats.entries > maxEntries) throw new LayerFormatError(`layer has more than ${maxEntries} entries`);

    const parts = cleanEntryPath(name);
    const base = parts[parts.length - 1];
    if (base !== undefined && base.startsWith(WHITEOUT_PREFIX)) {
      await drain(entry);
      await this.applyWhiteout(name, parts.slice(0, -1), base);
      return;
    }

    const type = header.type ?? 'file';
    if (parts.length === 0) {
      await drain(entry);
      if (type === 'directory') return; // "./" entries: never re-own or re-mode the root
      throw new UnsafeLayerEntryError(name, `a ${type} entry would replace the layer root`);
    }

    if (!isSupportedType(type) || ((type === 'character-device' || type === 'block-device') && !this.options.allowDevices)) {
      await drain(entry);
      this.skip(name, type, isSupportedType(type) ? 'devices not allowed (options.allowDevices)' : 'unsupported entry type');
      return;
    }
    if ((type === 'character-device' || type === 'block-device' || type === 'fifo') && !this.options.hooks?.mknod) {
      await drain(entry);
      this.skip(name, type, 'no mknod hook available');
      return;
    }

    const parent = await this.resolveDirectory(parts.slice(0, -1), true, name);
    if (parent === undefined) throw new LayerFormatError(`cannot create parent of ${name}`);
    const target = path.join(parent, base);

    // Resolve the hardlink source before touching `target`, so a failing link removes nothing.
    const linkSource = type === 'link' ? await this.resolveHardlinkSource(name, header.linkname ?? '') : undefined;
    if (linkSource === target) {
      await drain(entry);
      return; // a link to itself: nothing to do
    }

    const existing = await lstatOrUndefined(target);
    if (existing && !(type === 'directory' && existing.isDirectory())) {
      await fs.rm(target, { recursive: true, force: true });
    }

    const pax = (header.pax ?? {}) as Record<string, string>;
    switch (type) {
      case 'file':
      case 'contiguous-file':
        await this.writeFile(target, entry, name);
        this.stats.files += 1;
        break;
      case 'directory':
        await drain(entry);
        if (!existing || !existing.isDirectory()) await fs.mkdir(target, { mode: 0o700 });
        this.stats.directories += 1;
        break;
      case 'symlink':
        await drain(entry);
        if (!header.linkname) throw new UnsafeLayerEntryError(name, 'symlink without a target');
        await fs.symlink(header.linkname, target);
        this.stats.symlinks += 1;
        break;
      case 'link':
        await drain(entry);
        await fs.link(linkSource as string, target);
        this.stats.hardlinks += 1;
        this.unpacked.add(target);
        return; // shares the source inode and its attributes
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(entry);
        const kind = type === 'fifo' ? 'fifo' : type === 'character-device' ? 'char' : 'block';
        await this.options.hooks!.mknod(target, kind, (header.mode ?? 0o600) & 0o7777, header.devmajor ?? 0, header.devminor ?? 0);
        this.stats.specialFiles += 1;
        break;
      }
    }
    this.unpacked.add(target);
    await this.applyAttributes(target, type, header, pax);
  }

  async finish(): Promise<void> {
    // Directory times last (creating children changes them), deepest first; lutimes never follows a link.
    this.directoryTimes.sort((a, b) => b.hostPath.length - a.hostPath.length);
    for (const { hostPath, mtime } of this.directoryTimes) {
      const stat = await lstatOrUndefined(hostPath);
      if (stat?.isDirectory()) await fs.lutimes(hostPath, mtime, mtime);
    }
  }

  private skip(entryPath: string, type: string, reason: string): void {
    this.stats.skipped.push({ path: entryPath, type, reason });
  }

  private async writeFile(target: string, entry: TarEntry, name: string): Promise<void> {
    const maxFileBytes = this.options.limits?.maxFileBytes;
    // O_EXCL|O_NOFOLLOW: the path was just cleared, so anything there now is not ours to write through.
    const handle = await fs.open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    let written = 0;
    try {
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        written += chunk.length;
        if (maxFileBytes !== undefined && written > maxFileBytes) throw new LayerFormatError(`${name} is larger than ${maxFileBytes} bytes`);
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
          offset += bytesWritten;
        }
      }
    } finally {
      await handle.close();
    }
    this.stats.bytes += written;
  }

  private async applyAttributes(target: string, type: string, header: tar.Header, pax: Record<string, string>): Promise<void> {
    const uid = pax.uid !== undefined ? Number.parseInt(pax.uid, 10) : (header.uid ?? 0);
    const gid = pax.gid !== undefined ? Number.parseInt(pax.gid, 10) : (header.gid ?? 0);
    if (this.preserveOwnership) await fs.lchown(target, uid, gid);

    if (this.applyXattrs) {
      for (const [key, value] of Object.entries(pax)) {
        if (!key.startsWith('SCHILY.xattr.')) continue;
        const xattrName = key.slice('SCHILY.xattr.'.length);
        // Overlay metadata from an image must not steer the host's overlayfs.
        if (/^(trusted|user)\.overlay\./.test(xattrName)) continue;
        await this.options.hooks!.lsetxattr!(target, xattrName, Buffer.from(value, 'utf8'));
      }
    }

    // chmod after chown: chown clears setuid/setgid. Symlink modes are meaningless on Linux.
    if (type !== 'symlink') await fs.chmod(target, (header.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777);

    const mtime = pax.mtime !== undefined ? new Date(Number.parseFloat(pax.mtime) * 1000) : (header.mtime ?? new Date(0));
    if (Number.isNaN(mtime.getTime())) return;
    if (type === 'directory') this.directoryTimes.push({ hostPath: target, mtime });
    else await fs.lutimes(target, mtime, mtime);
  }

  private async applyWhiteout(name: string, parentParts: string[], base: string): Promise<void> {
    if (base === OPAQUE_MARKER) {
      await this.applyOpaque(name, parentParts);
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
      this.skip(name, 'whiteout', 'aufs metadata');
      return;
    }
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') throw new UnsafeLayerEntryError(name, `invalid whiteout name "${base}"`);

    this.stats.whiteouts += 1;
    if (this.whiteoutMode === 'overlay') {
      const parent = await this.resolveDirectory(parentParts, true, name);
      const target = path.join(parent as string, hidden);
      if (await lstatOrUndefined(target)) await fs.rm(target, { recursive: true, force: true });
      await this.options.hooks!.mknod(target, 'char', 0, 0, 0);
      this.unpacked.add(target);
      return;
    }
    const parent = await this.resolveDirectory(parentParts, false, name);
    if (parent === undefined) return; // nothing below to hide
    const target = path.join(parent, hidden);
    if (this.unpacked.has(target)) return; // whiteouts only hide lower layers
    await fs.rm(target, { recursive: true, force: true });
  }

  private async applyOpaque(name: string, dirParts: string[]): Promise<void> {
    this.stats.opaqueDirectories += 1;
    if (this.whiteoutMode === 'overlay') {
      const dir = await this.resolveDirectory(dirParts, true, name);
      const prefix = this.options.overlayXattrNamespace ?? 'trusted';
      await this.options.hooks!.lsetxattr!(dir as string, `${prefix}.overlay.opaque`, Buffer.from('y'));
      return;
    }
    const dir = await this.resolveDirectory(dirParts, false, name);
    if (dir !== undefined) await this.clearLowerChildren(dir);
  }

  /** Removes everything under `dir` that this layer did not unpack (an opaque dir hides all lower content). */
  private async clearLowerChildren(dir: string): Promise<void> {
    for (const child of await fs.readdir(dir)) {
      const childPath = path.join(dir, child);
      if (!this.unpacked.has(childPath)) {
        await fs.rm(childPath, { recursive: true, force: true });
        continue;
      }
      const stat = await fs.lstat(childPath);
      if (stat.isDirectory()) await this.clearLowerChildren(childPath);
    }
  }

  private async resolveHardlinkSource(name: string, linkname: string): Promise<string> {
    let parts: string[];
    try {
      parts = cleanEntryPath(linkname);
    } catch {
      throw new UnsafeLayerEntryError(name, `hardlink target ${JSON.stringify(linkname)} leaves the layer root`);
    }
    if (parts.length === 0) throw new UnsafeLayerEntryError(name, 'hardlink to the layer root');
    const parent = await this.resolveDirectory(parts.slice(0, -1), false, name);
    const source = parent === undefined ? undefined : path.join(parent, parts[parts.length - 1]);
    const stat = source === undefined ? undefined : await lstatOrUndefined(source);
    if (source === undefined || stat === undefined) throw new UnsafeLayerEntryError(name, `hardlink target ${JSON.stringify(linkname)} does not exist inside the root`);
    if (stat.isDirectory()) throw new UnsafeLayerEntryError(name, `hardlink target ${JSON.stringify(linkname)} is a directory`);
    return source;
  }

  /**
   * Resolves a directory path (relative to the root) to a host path, following
   * symlinks as if the root were `/`: absolute targets restart at the root and
   * `..` never climbs above it. With `create`, missing components are made
   * (0755); without, a missing component yields undefined.
   */
  private async resolveDirectory(parts: readonly string[], create: boolean, entryName: string): Promise<string | undefined> {
    const resolved: string[] = [];
    const pending = [...parts];
    let follows = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = path.join(this.root, ...resolved, part);
      const stat = await lstatOrUndefined(candidate);
      if (stat === undefined) {
        if (!create) return undefined;
        await fs.mkdir(candidate, { mode: 0o755 });
        await fs.chmod(candidate, 0o755); // independent of the process umask
        resolved.push(part);
        continue;
      }
      if (stat.isSymbolicLink()) {
        follows += 1;
        if (follows > MAX_SYMLINK_FOLLOWS) throw new LayerFormatError(`too many levels of symbolic links resolving the parent of ${entryName}`);
        const linkTarget = await fs.readlink(candidate);
        if (linkTarget.startsWith('/')) resolved.length = 0;
        pending.unshift(...linkTarget.split('/'));
        continue;
      }
      if (!stat.isDirectory()) {
        if (!create) return undefined;
        throw new LayerFormatError(`parent of ${entryName} is not a directory: /${[...resolved, part].join('/')}`);
      }
      resolved.push(part);
    }
    return path.join(this.root, ...resolved);
  }
}

/**
 * Cleans a tar entry name lexically against `/`: leading `/` and `./` are
 * dropped, `.` and empty components ignored, `..` pops. Climbing above the
 * root throws UnsafeLayerEntryError. Returns the components ([] for the root).
 */
export function cleanEntryPath(name: string): string[] {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new UnsafeLayerEntryError(name, 'path climbs above the layer root');
      parts.pop();
      continue;
    }
    if (part.includes('\0')) throw new UnsafeLayerEntryError(name, 'NUL byte in path');
    parts.push(part);
  }
  return parts;
}

/** Ends the parser without an error event (an error there would read as a corrupt stream). */
function destroyQuietly(stream: { destroy(error?: Error): void }): void {
  stream.destroy();
}

function isSupportedType(type: string): boolean {
  return ['file', 'contiguous-file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'].includes(type);
}

async function lstatOrUndefined(target: string) {
  try {
    return await fs.lstat(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of entry) {
    // discard
  }
}

function waitForDrain(stream: NodeJS.EventEmitter): Promise<void> {
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
