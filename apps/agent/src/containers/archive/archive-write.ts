import { constants } from 'node:fs';
import { lchown, link, lutimes, mkdir, rmdir, symlink, unlink } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import * as tar from 'tar-stream';
import { ConflictError, InvalidArgumentError, NotFoundError } from '@muelle/contracts';
import { below, changedError, ContainerRoot, isKernelPath, type Resolved } from './in-root';

export interface ExtractOptions {
  /** Docker's `noOverwriteDirNonDir`: a directory never replaces a file nor a file a directory. */
  noOverwriteDirNonDir: boolean;
  /** Owner for every entry (`docker cp -a`: the container's user); else the archive's uid/gid. */
  owner?: { uid: number; gid: number };
}

interface TarEntry extends Readable {
  header: tar.Header;
}

/**
 * The destination of a `docker cp` into a container: an existing directory (followed inside the
 * root), never under /proc, /sys or /dev. Returns its path as the container sees it.
 */
export async function resolveDestination(root: ContainerRoot, path: string): Promise<string> {
  const resolved = await root.resolve(path, true);
  try {
    if (!resolved.stats) throw new NotFoundError(`no such directory in the container: ${path}`);
    if (!resolved.stats.isDirectory()) throw new InvalidArgumentError(`not a directory in the container: ${path}`);
    if (isKernelPath(resolved.path)) throw new InvalidArgumentError(`cannot copy into ${resolved.path}: it is the kernel's, not the container's`);
    return resolved.path;
  } finally {
    await resolved.release();
  }
}

/**
 * Extracts a tar stream below `destination` (a path inside the root). Each entry's parent is
 * resolved inside the root again (a symlink a process in the container made meanwhile is followed
 * inside it, never out), the entry itself is created with O_NOFOLLOW/O_EXCL after removing what was
 * there, and names that climb out of the destination (`../x`) are refused, as Docker refuses them.
 * Device nodes and FIFOs are refused. Entries are applied one at a time, so the tar is read only as
 * fast as the disk takes it.
 */
export async function extractInto(root: ContainerRoot, destination: string, source: AsyncIterable<Uint8Array>, options: ExtractOptions): Promise<number> {
  const extract = tar.extract();
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (extract.destroyed) return; // an entry failed: the rest of the tar is not read
        if (!extract.write(chunk)) await new Promise<void>((resolve) => extract.once('drain', resolve).once('close', resolve));
      }
      (extract as unknown as Writable).end();
    } catch (error) {
      extract.destroy(error as Error);
    }
  })();
  let count = 0;
  try {
    for await (const raw of extract) {
      const entry = raw as unknown as TarEntry;
      await applyEntry(root, destination, entry, options);
      entry.resume();
      count++;
    }
  } catch (error) {
    extract.destroy();
    throw error;
  } finally {
    await feeding;
  }
  return count;
}

/** `a/./b/` → `a/b`; `../x` and `a/../../x` are refused (they leave the destination). */
export function entryPath(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!parts.length) throw new InvalidArgumentError(`the archive entry ${JSON.stringify(name)} points outside the destination`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

async function applyEntry(root: ContainerRoot, destination: string, entry: TarEntry, options: ExtractOptions): Promise<void> {
  const header = entry.header;
  if ((header.type as string) === 'pax-global-header') return;
  const relative = entryPath(header.name);
  const target = relative ? `${destination === '/' ? '' : destination}/${relative}` : destination;
  const at = await root.resolve(target, false);
  try {
    if (isKernelPath(at.path)) throw new InvalidArgumentError(`cannot copy into ${at.path}: it is the kernel's, not the container's`);
    if (!at.name) return; // the destination itself (`.`): it exists already
    const here = below(at.parent, at.name);
    const existing = at.stats;
    const isDir = header.type === 'directory';
    if (existing && existing.isDirectory() !== isDir) {
      if (options.noOverwriteDirNonDir) throw new ConflictError(`cannot overwrite ${existing.isDirectory() ? 'directory' : 'non-directory'} ${at.path} with ${isDir ? 'a directory' : 'a non-directory'}`);
      // Only an empty directory is replaced: a recursive removal would walk by path strings.
      await (existing.isDirectory() ? rmdir(here) : unlink(here));
    } else if (existing && !isDir) {
      await unlink(here);
    }
    const uid = options.owner?.uid ?? header.uid ?? 0;
    const gid = options.owner?.gid ?? header.gid ?? 0;
    const mode = (header.mode ?? (isDir ? 0o755 : 0o644)) & 0o7777;
    switch (header.type) {
      case 'directory': {
        if (!existing) await mkdir(here, 0o700);
        const dir = await root.openResolved(at, constants.O_RDONLY | constants.O_DIRECTORY);
        try {
          await dir.chown(uid, gid);
          await dir.chmod(mode);
          if (header.mtime) await dir.utimes(header.mtime, header.mtime);
        } finally {
          await dir.close();
        }
        return;
      }
      case 'file':
      case 'contiguous-file':
        return await writeFile(root, at, entry, uid, gid, mode, header.mtime);
      case 'symlink':
        await symlink(header.linkname ?? '', here);
        await lchown(here, uid, gid);
        if (header.mtime) await lutimes(here, header.mtime, header.mtime);
        return;
      case 'link':
        return await hardLink(root, destination, at, header.linkname ?? '');
      default:
        throw new InvalidArgumentError(`the archive entry ${header.name} is a ${header.type}: only files, directories and links are copied into a container`);
    }
  } catch (error) {
    throw changedError(error as NodeJS.ErrnoException, at.path);
  } finally {
    await at.release();
  }
}

async function writeFile(root: ContainerRoot, at: Resolved, entry: TarEntry, uid: number, gid: number, mode: number, mtime?: Date): Promise<void> {
  const file = await root.openResolved(at, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    for await (const chunk of entry) await file.write(chunk as Buffer);
    // chown before chmod: a chown clears setuid/setgid bits.
    await file.chown(uid, gid);
    await file.chmod(mode);
    if (mtime) await file.utimes(mtime, mtime);
  } finally {
    await file.close();
  }
}

/** A hard link to an earlier entry of the same archive, found inside the root (never outside). */
async function hardLink(root: ContainerRoot, destination: string, at: Resolved, linkname: string): Promise<void> {
  const relative = entryPath(linkname);
  const source = await root.resolve(`${destination === '/' ? '' : destination}/${relative}`, false);
  try {
    if (!source.stats || source.stats.isDirectory()) throw new InvalidArgumentError(`the hard link ${at.path} points at ${linkname}, which is not a file in the archive's destination`);
    await link(below(source.parent, source.name), below(at.parent, at.name));
  } finally {
    await source.release();
  }
}
