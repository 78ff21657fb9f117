import { constants, type Stats } from 'node:fs';
import { lstat, opendir, readlink, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { ConflictError, InvalidArgumentError, NotFoundError } from '@muelle/contracts';
import { below, changedError, ContainerRoot, isKernelPath, type Resolved } from './in-root';

/** Docker's `X-Docker-Container-Path-Stat`: what `path` names, as the container sees it. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits (type bits high, permissions low), as dockerd sends them. */
  mode: number;
  mtime: string;
  /** For a symlink, its target resolved inside the container; else ''. */
  linkTarget: string;
}

const READ_CHUNK = 64 * 1024;
type EntryHeader = Partial<tar.Header> & { name: string };

/**
 * How Docker resolves a `docker cp` source: symlinks on the way are followed (inside the root), the
 * last one only when the path ends in `/` or `/.` (then it must be a directory). The archive's top
 * entry is named after the last component, or `.` for `dir/.` (copy the contents).
 */
export async function resolveSource(root: ContainerRoot, path: string): Promise<{ resolved: Resolved; stat: PathStat; entryName: string }> {
  const followLast = path.endsWith('/') || path.endsWith('/.');
  const resolved = await root.resolve(path, followLast);
  if (!resolved.stats) {
    await resolved.release();
    throw new NotFoundError(`no such file or directory in the container: ${path}`);
  }
  if (followLast && !resolved.stats.isDirectory()) {
    await resolved.release();
    throw new InvalidArgumentError(`not a directory in the container: ${path}`);
  }
  let linkTarget = '';
  if (resolved.stats.isSymbolicLink()) {
    // A link whose target does not exist in the container (dangling) is shown with an empty target, as docker's stat does.
    const target = await root.resolve(path, true).catch(() => undefined);
    linkTarget = target?.path ?? '';
    await target?.release();
  }
  const base = path.replace(/\/+$/, '').split('/').pop() || '/';
  const entryName = path.endsWith('/.') ? '.' : base === '/' ? '.' : base;
  return { resolved, stat: pathStat(entryName === '.' ? base : entryName, resolved.stats, linkTarget), entryName };
}

export function pathStat(name: string, stats: Stats, linkTarget: string): PathStat {
  return { name, size: stats.size, mode: goFileMode(stats), mtime: stats.mtime.toISOString(), linkTarget };
}

/** Go's os.FileMode: permission bits plus one type bit, as dockerd reports `mode` in a path stat. */
function goFileMode(stats: Stats): number {
  const typeBit = stats.isDirectory() ? 2 ** 31 : stats.isSymbolicLink() ? 2 ** 27 : stats.isFIFO() ? 2 ** 25 : stats.isSocket() ? 2 ** 24 : stats.isCharacterDevice() ? 2 ** 26 + 2 ** 21 : stats.isBlockDevice() ? 2 ** 26 : 0;
  const special = (stats.mode & 0o4000 ? 2 ** 23 : 0) + (stats.mode & 0o2000 ? 2 ** 22 : 0) + (stats.mode & 0o1000 ? 2 ** 20 : 0);
  return typeBit + special + (stats.mode & 0o777);
}

/**
 * Writes a tar of what `resolved` names to a tar-stream pack and ends it. Every file is opened with
 * O_NOFOLLOW below its already opened directory; a file that is no longer what was listed (a
 * symlink swapped in) stops the copy. Writes wait for the pack's reader (backpressure); sockets
 * are skipped like Docker does, and the kernel's own trees (/proc, /sys, /dev) are listed without
 * their contents.
 */
export async function packResolved(root: ContainerRoot, resolved: Resolved, entryName: string, pack: tar.Pack): Promise<void> {
  const links = new Map<string, string>();
  const walk = async (dir: FileHandle, name: string, archiveName: string, containerPath: string, stats: Stats): Promise<void> => {
    const header = { name: archiveName, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, mtime: stats.mtime };
    if (stats.isDirectory()) {
      await entry(pack, { ...header, type: 'directory' });
      if (isKernelPath(containerPath) && containerPath !== '/') return;
      const handle = name === '' ? undefined : await root.openDir(dir, name, containerPath);
      const self = handle ?? dir;
      try {
        const names: string[] = [];
        for await (const child of await opendir(`/proc/self/fd/${self.fd}`)) names.push(child.name);
        for (const child of names.sort()) {
          const childStats = await lstat(below(self, child)).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return undefined; // removed while we listed: nothing to copy
            throw error;
          });
          const childPath = `${containerPath === '/' ? '' : containerPath}/${child}`;
          if (childStats) await walk(self, child, archiveName === '.' ? child : `${archiveName}/${child}`, childPath, childStats);
        }
      } finally {
        await handle?.close();
      }
    } else if (stats.isSymbolicLink()) {
      const linkname = await readlink(below(dir, name)).catch((error: NodeJS.ErrnoException) => {
        throw changedError(error, containerPath);
      });
      await entry(pack, { ...header, type: 'symlink', linkname });
    } else if (stats.isFile()) {
      const key = `${stats.dev}:${stats.ino}`;
      const first = stats.nlink > 1 ? links.get(key) : undefined;
      if (first) return entry(pack, { ...header, type: 'link', linkname: first });
      if (stats.nlink > 1) links.set(key, archiveName);
      await packFile(root, { parent: dir, name, path: containerPath, stats, release: async () => undefined }, pack, header);
    } else if (stats.isFIFO() || stats.isCharacterDevice() || stats.isBlockDevice()) {
      const type = stats.isFIFO() ? 'fifo' : stats.isCharacterDevice() ? 'character-device' : 'block-device';
      await entry(pack, { ...header, type, devmajor: Math.floor(stats.rdev / 256) & 0xfff, devminor: (stats.rdev & 0xff) | ((stats.rdev >> 12) & 0xfff00) });
    }
  };
  await walk(resolved.parent, resolved.name, entryName, resolved.path, resolved.stats as Stats);
  pack.finalize();
}

async function packFile(root: ContainerRoot, file: Resolved, pack: tar.Pack, header: EntryHeader): Promise<void> {
  const handle = await root.openResolved(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== (file.stats as Stats).ino) throw new ConflictError(`${file.path} changed in the container during the copy`);
    // The header promises a size: a file that shrinks meanwhile is padded, one that grows is cut.
    const size = opened.size;
    const stream = pack.entry({ ...header, type: 'file', size });
    const done = new Promise<void>((resolve, reject) => stream.once('error', reject).once('finish', resolve));
    const buffer = Buffer.alloc(READ_CHUNK);
    for (let offset = 0; offset < size; ) {
      const want = Math.min(READ_CHUNK, size - offset);
      const { bytesRead } = await handle.read(buffer, 0, want, offset);
      const chunk = bytesRead > 0 ? Buffer.from(buffer.subarray(0, bytesRead)) : Buffer.alloc(want);
      offset += chunk.length;
      if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
    }
    (stream as unknown as NodeJS.WritableStream).end();
    await done;
  } finally {
    await handle.close();
  }
}

function entry(pack: tar.Pack, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (error) => (error ? reject(error) : resolve())));
}

/** The pack as bytes for the bus, ended with an error when the walk failed. */
export function tarOf(root: ContainerRoot, resolved: Resolved, entryName: string): Readable {
  const pack = tar.pack();
  packResolved(root, resolved, entryName, pack).catch((error: Error) => pack.destroy(error));
  return pack as unknown as Readable;
}
