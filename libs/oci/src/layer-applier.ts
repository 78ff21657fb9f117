import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type * as tar from 'tar-stream';
import { LayerFormatError, UnsafeLayerEntryError } from './errors';
import type { ApplyLayerOptions, ApplyLayerResult, WhiteoutMode } from './layer-apply';

// One tar entry at a time onto a root directory, never outside it: the rules `applyLayer` documents.

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** Same bound as the kernel's path resolution. */
const MAX_SYMLINK_FOLLOWS = 40;
/** One archive member as tar-stream yields it. */
export type TarEntry = AsyncIterable<Buffer> & { header: tar.Header };

type Stats = Omit<ApplyLayerResult, 'diffId' | 'tarSize' | 'compression'>;

export class LayerApplier {
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
