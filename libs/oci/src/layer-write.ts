import { createHash, type Hash } from 'node:crypto';
import { type Stats, createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { LayerWriteError } from './errors';
import { MediaType } from './media-types';
import { BLOCK_SIZE, NAME, LINKNAME, TYPEFLAG, MAX_OCTAL_8, MAX_OCTAL_12, paxRecord, splitUstarName, ustarHeader, isAscii, asciiTruncate } from './ustar';

export type LayerEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface LayerEntry {
  /** Path inside the layer, `/`-separated; a leading `/` or `./` and a trailing `/` are dropped. */
  path: string;
  type: LayerEntryType;
  /** Permission bits including setuid/setgid/sticky. Default 0644 (files), 0755 (directories), 0777 (symlinks). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (fractions truncated) or a Date. Default 0. */
  mtime?: number | Date;
  /** Regular-file content held in memory… */
  content?: Uint8Array;
  /** …or read from this host path when the entry is written (then `size` is checked against what is read). */
  sourcePath?: string;
  size?: number;
  /** Symlink target (verbatim) or hardlink target (a path inside the layer). */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Written as PAX `SCHILY.xattr.<name>` records, raw bytes. */
  xattrs?: Record<string, Uint8Array>;
}

export interface WriteLayerOptions {
  /** Default 'gzip'. */
  compression?: 'gzip' | 'none';
  /** zlib level; fixed so equal input gives equal bytes. Default 6. */
  gzipLevel?: number;
  /** Clamp every mtime later than this (seconds) to it (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
}

export interface LayerWriteResult {
  /** sha256 of the uncompressed tar: the config's `rootfs.diff_ids` entry. */
  diffId: string;
  /** sha256 of the bytes written to `out`: the manifest layer descriptor digest. */
  digest: string;
  /** Bytes written to `out`. */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  mediaType: string;
}

/**
 * Writes a layer deterministically: entries sorted bytewise by path, mtimes
 * truncated to seconds and clamped to `sourceDateEpoch`, no atime/ctime, empty
 * uname/gname, PAX records only when ustar cannot hold a value, then gzip at a
 * fixed level (Node's gzip header carries mtime 0 and a fixed OS byte). The
 * same entries and options always give the same digest. Ends `out`.
 */
export async function writeLayerTar(entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>, out: Writable, options: WriteLayerOptions = {}): Promise<LayerWriteResult> {
  const sorted = await normalizeAndSort(entries);
  const compression = options.compression ?? 'gzip';
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  const counter = { tar: 0, blob: 0 };

  const stages: NodeJS.ReadWriteStream[] = [hashingStage(tarHash, (n) => (counter.tar += n))];
  if (compression === 'gzip') {
    stages.push(zlib.createGzip({ level: options.gzipLevel ?? 6 }));
    stages.push(hashingStage(blobHash, (n) => (counter.blob += n)));
  }
  await pipeline([Readable.from(tarStream(sorted, options.sourceDateEpoch)), ...stages, out]);

  const diffId = `sha256:${tarHash.digest('hex')}`;
  if (compression === 'none') return { diffId, digest: diffId, size: counter.tar, tarSize: counter.tar, mediaType: MediaType.OciLayerTar };
  return { diffId, digest: `sha256:${blobHash.digest('hex')}`, size: counter.blob, tarSize: counter.tar, mediaType: MediaType.OciLayerGzip };
}

/** `.wh.<name>` entry hiding `<path>` from lower layers (mtime 0, as containerd writes them). */
export function whiteoutEntry(hiddenPath: string): LayerEntry {
  const clean = cleanLayerPath(hiddenPath);
  const slash = clean.lastIndexOf('/');
  const dir = slash === -1 ? '' : clean.slice(0, slash + 1);
  return { path: `${dir}.wh.${clean.slice(slash + 1)}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, content: Buffer.alloc(0) };
}

/** `.wh..wh..opq` marker making `directory` opaque (hides all lower children). */
export function opaqueEntry(directory: string): LayerEntry {
  const clean = directory.split('/').filter((p) => p !== '' && p !== '.').join('/');
  return { path: clean === '' ? '.wh..wh..opq' : `${clean}/.wh..wh..opq`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, content: Buffer.alloc(0) };
}

export interface TarDirectoryOptions extends WriteLayerOptions {
  /** Place the directory's content under this path inside the layer (e.g. `app`), parents included. */
  prefix?: string;
  /** Reads a path's xattrs (Node cannot); by default none are written. Only `security.capability` matters for images. */
  readXattrs?: (hostPath: string) => Promise<Record<string, Uint8Array>>;
}

/**
 * Layer holding everything under `dir` (the directory itself is not an
 * entry): regular files, directories, symlinks (targets verbatim), hardlinks
 * (the bytewise-first path carries the data, later ones link to it), devices
 * and FIFOs; sockets are skipped. Deterministic like writeLayerTar.
 */
export async function tarDirectory(dir: string, out: Writable, options: TarDirectoryOptions = {}): Promise<LayerWriteResult> {
  const rootStat = await fs.lstat(dir);
  if (!rootStat.isDirectory()) throw new LayerWriteError(`${dir} is not a directory`);
  const prefix = options.prefix === undefined ? '' : cleanLayerPath(options.prefix);

  const found: Array<{ relative: string; hostPath: string; stat: Stats }> = [];
  const walk = async (hostDir: string, relativeDir: string) => {
    for (const name of await fs.readdir(hostDir)) {
      const hostPath = path.join(hostDir, name);
      const relative = relativeDir === '' ? name : `${relativeDir}/${name}`;
      const stat = await fs.lstat(hostPath);
      found.push({ relative, hostPath, stat });
      if (stat.isDirectory()) await walk(hostPath, relative);
    }
  };
  await walk(dir, '');
  found.sort((a, b) => compareBytes(a.relative, b.relative));

  const entries: LayerEntry[] = [];
  if (prefix !== '') {
    const components = prefix.split('/');
    components.forEach((_, i) =>
      entries.push({ path: components.slice(0, i + 1).join('/'), type: 'directory', mode: rootStat.mode & 0o7777, uid: rootStat.uid, gid: rootStat.gid, mtime: Math.floor(rootStat.mtimeMs / 1000) }),
    );
  }
  const firstPathOfInode = new Map<string, string>();
  for (const { relative, hostPath, stat } of found) {
    const layerPath = prefix === '' ? relative : `${prefix}/${relative}`;
    const base = { path: layerPath, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, mtime: Math.floor(stat.mtimeMs / 1000) };
    const xattrs = options.readXattrs ? await options.readXattrs(hostPath) : undefined;
    const withXattrs = xattrs && Object.keys(xattrs).length > 0 ? { xattrs } : {};
    if (stat.isDirectory()) entries.push({ ...base, ...withXattrs, type: 'directory' });
    else if (stat.isSymbolicLink()) entries.push({ ...base, type: 'symlink', linkTarget: await fs.readlink(hostPath) });
    else if (stat.isFile()) {
      const inode = `${stat.dev}:${stat.ino}`;
      const first = stat.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
      if (first !== undefined) entries.push({ ...base, type: 'hardlink', linkTarget: first });
      else {
        if (stat.nlink > 1) firstPathOfInode.set(inode, layerPath);
        entries.push({ ...base, ...withXattrs, type: 'file', sourcePath: hostPath, size: Number(stat.size) });
      }
    } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
      const rdev = Number(stat.rdev);
      entries.push({ ...base, type: stat.isCharacterDevice() ? 'char' : 'block', devMajor: deviceMajor(rdev), devMinor: deviceMinor(rdev) });
    } else if (stat.isFIFO()) entries.push({ ...base, type: 'fifo' });
    // sockets are not representable in a layer
  }
  return writeLayerTar(entries, out, options);
}

// glibc's gnu_dev_major/gnu_dev_minor encoding of dev_t.
function deviceMajor(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}
function deviceMinor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

interface PreparedEntry extends LayerEntry {
  path: string;
}

async function normalizeAndSort(entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>): Promise<PreparedEntry[]> {
  const list: PreparedEntry[] = [];
  const seen = new Set<string>();
  for await (const entry of entries as AsyncIterable<LayerEntry>) {
    const clean = cleanLayerPath(entry.path);
    if (seen.has(clean)) throw new LayerWriteError(`duplicate layer path "${clean}"`);
    seen.add(clean);
    if ((entry.type === 'symlink' || entry.type === 'hardlink') && !entry.linkTarget) throw new LayerWriteError(`${entry.type} "${clean}" needs a linkTarget`);
    if (entry.type === 'file' && entry.content !== undefined && entry.sourcePath !== undefined) {
      throw new LayerWriteError(`file "${clean}" has both content and sourcePath`);
    }
    list.push({ ...entry, path: clean, linkTarget: entry.type === 'hardlink' ? cleanLayerPath(entry.linkTarget as string) : entry.linkTarget });
  }
  list.sort((a, b) => compareBytes(a.path, b.path));
  return list;
}

function cleanLayerPath(raw: string): string {
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new LayerWriteError(`layer path "${raw}" contains ".."`);
    if (part.includes('\0')) throw new LayerWriteError(`layer path "${raw}" contains a NUL byte`);
    parts.push(part);
  }
  if (parts.length === 0) throw new LayerWriteError(`layer path "${raw}" names the layer root`);
  return parts.join('/');
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function hashingStage(hash: Hash, count: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      count(chunk.length);
      callback(null, chunk);
    },
  });
}

async function* tarStream(entries: PreparedEntry[], sourceDateEpoch: number | undefined): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    const size = entry.type === 'file' ? await contentSize(entry) : 0;
    const mtime = clampMtime(entry.mtime, sourceDateEpoch);
    yield* headerBlocks(entry, size, mtime);
    if (entry.type !== 'file') continue;
    if (entry.content !== undefined) yield Buffer.from(entry.content);
    else if (entry.sourcePath !== undefined) {
      let read = 0;
      for await (const chunk of createReadStream(entry.sourcePath) as AsyncIterable<Buffer>) {
        read += chunk.length;
        if (read > size) break;
        yield chunk;
      }
      if (read !== size) throw new LayerWriteError(`"${entry.path}": ${entry.sourcePath} changed size while being written (expected ${size} bytes)`);
    }
    const padding = (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
    if (padding > 0) yield Buffer.alloc(padding);
  }
  yield Buffer.alloc(BLOCK_SIZE * 2); // end-of-archive marker
}

async function contentSize(entry: PreparedEntry): Promise<number> {
  if (entry.content !== undefined) return entry.content.byteLength;
  if (entry.sourcePath === undefined) return 0;
  if (entry.size !== undefined) return entry.size;
  return Number((await fs.stat(entry.sourcePath)).size);
}

function clampMtime(mtime: number | Date | undefined, sourceDateEpoch: number | undefined): number {
  let seconds = mtime === undefined ? 0 : mtime instanceof Date ? Math.floor(mtime.getTime() / 1000) : Math.floor(mtime);
  if (sourceDateEpoch !== undefined && seconds > sourceDateEpoch) seconds = Math.floor(sourceDateEpoch);
  return seconds;
}

function defaultMode(type: LayerEntryType): number {
  if (type === 'directory') return 0o755;
  if (type === 'symlink') return 0o777;
  return 0o644;
}

function headerBlocks(entry: PreparedEntry, size: number, mtime: number): Buffer[] {
  const name = entry.type === 'directory' ? `${entry.path}/` : entry.path;
  const linkname = entry.linkTarget ?? '';
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  const pax: Array<[string, Buffer]> = [];

  const split = splitUstarName(name);
  if (split === undefined) pax.push(['path', Buffer.from(name, 'utf8')]);
  if (!isAscii(linkname) || Buffer.byteLength(linkname) > LINKNAME.width) pax.push(['linkpath', Buffer.from(linkname, 'utf8')]);
  if (uid > MAX_OCTAL_8 || uid < 0) pax.push(['uid', Buffer.from(String(uid))]);
  if (gid > MAX_OCTAL_8 || gid < 0) pax.push(['gid', Buffer.from(String(gid))]);
  if (size > MAX_OCTAL_12) pax.push(['size', Buffer.from(String(size))]);
  if (mtime > MAX_OCTAL_12 || mtime < 0) pax.push(['mtime', Buffer.from(String(mtime))]);
  for (const [key, value] of Object.entries(entry.xattrs ?? {})) pax.push([`SCHILY.xattr.${key}`, Buffer.from(value)]);
  pax.sort(([a], [b]) => compareBytes(a, b));

  const main = ustarHeader({
    name: split?.name ?? asciiTruncate(name, NAME.width),
    prefix: split?.prefix ?? '',
    mode: (entry.mode ?? defaultMode(entry.type)) & 0o7777,
    uid: uid > MAX_OCTAL_8 || uid < 0 ? 0 : uid,
    gid: gid > MAX_OCTAL_8 || gid < 0 ? 0 : gid,
    size: size > MAX_OCTAL_12 ? 0 : size,
    mtime: mtime > MAX_OCTAL_12 || mtime < 0 ? 0 : mtime,
    typeflag: TYPEFLAG[entry.type],
    linkname: isAscii(linkname) && Buffer.byteLength(linkname) <= LINKNAME.width ? linkname : asciiTruncate(linkname, LINKNAME.width),
    devMajor: entry.devMajor ?? 0,
    devMinor: entry.devMinor ?? 0,
  });
  if (pax.length === 0) return [main];

  const body = Buffer.concat(pax.map(([key, value]) => paxRecord(key, value)));
  const baseName = entry.path.slice(entry.path.lastIndexOf('/') + 1);
  const paxHeader = ustarHeader({
    name: asciiTruncate(`PaxHeaders.0/${baseName}`, NAME.width),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: mtime > MAX_OCTAL_12 || mtime < 0 ? 0 : mtime,
    typeflag: TYPEFLAG.pax,
    linkname: '',
    devMajor: 0,
    devMinor: 0,
  });
  const padding = (BLOCK_SIZE - (body.length % BLOCK_SIZE)) % BLOCK_SIZE;
  return [paxHeader, body, Buffer.alloc(padding), main];
}
