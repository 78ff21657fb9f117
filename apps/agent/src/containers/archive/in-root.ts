import { constants } from 'node:fs';
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { ConflictError, InvalidArgumentError, NotFoundError } from '@muelle/contracts';

/** Linux's own limit on symlinks in one lookup (ELOOP past it). */
const MAX_SYMLINKS = 40;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** A path below an opened directory: the kernel jumps through the descriptor, then looks up one name. */
export const below = (dir: FileHandle, name: string) => `/proc/self/fd/${dir.fd}/${name}`;

/** A path resolved inside a root: the opened directory that holds it and the name in it. */
export interface Resolved {
  /** Open until `release()`. */
  parent: FileHandle;
  /** One path component, never `.`, `..` or empty; `''` when the path is the root itself. */
  name: string;
  /** The path as seen from inside the root, symlinks resolved (`/etc/shadow`). */
  path: string;
  /** lstat of the result; undefined when it does not exist. */
  stats?: Stats;
  /** Closes the directories this resolution opened. */
  release(): Promise<void>;
}

/**
 * A container's root, walked the way the kernel would walk it after a chroot — but from the host:
 * every step opens one name below a directory already opened (`/proc/self/fd/N/name`, never a
 * whole path string), with `O_NOFOLLOW`, so the walk never follows a symlink the kernel would
 * resolve against the host's `/`. Symlinks are read and resolved by this class inside the root
 * (absolute ones start over at the root), `..` goes back to the directory already opened one level
 * up and stops at the root. A symlink swapped in between the check and the open makes the open
 * fail (ELOOP), never escape: the copy ends with an error naming the path.
 */
export class ContainerRoot {
  private constructor(readonly root: FileHandle) {}

  /** `rootPath` is the agent's own (`/proc/<pid>/root`, a magic link that must be followed, or the stopped container's mount). */
  static async open(rootPath: string): Promise<ContainerRoot> {
    return new ContainerRoot(await open(rootPath, constants.O_RDONLY | constants.O_DIRECTORY));
  }

  close(): Promise<void> {
    return this.root.close();
  }

  /**
   * Resolves `path` (absolute inside the root). The last component is followed when it is a
   * symlink only with `followLast`. A missing last component resolves (stats undefined); a missing
   * directory on the way is NotFound.
   */
  async resolve(path: string, followLast: boolean): Promise<Resolved> {
    if (!path.startsWith('/')) throw new InvalidArgumentError(`path ${JSON.stringify(path)} must be absolute`);
    if (path.includes('\0')) throw new InvalidArgumentError('path must not contain NUL bytes');
    const stack: Array<{ name: string; dir: FileHandle }> = [{ name: '', dir: this.root }];
    const opened: FileHandle[] = [];
    try {
      return await this.walk(path, followLast, stack, opened);
    } catch (error) {
      await Promise.all(opened.map((h) => h.close()));
      throw error;
    }
  }

  private async walk(path: string, followLast: boolean, stack: Array<{ name: string; dir: FileHandle }>, opened: FileHandle[]): Promise<Resolved> {
    const pending = components(path);
    let links = 0;
    const here = () => stack.map((s) => s.name).join('/') || '';
    const result = (parent: FileHandle, name: string, shown: string, stats?: Stats): Resolved => {
      // Directories opened on the way, other than the one handed back, are closed at once.
      const others = opened.filter((h) => h !== parent);
      void Promise.all(others.map((h) => h.close())).catch(() => undefined); // closing a directory we only read cannot lose data
      return { parent, name, path: shown || '/', stats, release: async () => (parent === this.root ? undefined : parent.close()) };
    };
    while (pending.length) {
      const name = pending.shift() as string;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const top = stack[stack.length - 1] as { dir: FileHandle };
      const last = pending.length === 0;
      const stats = await lstat(below(top.dir, name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (!stats) {
        if (last) return result(top.dir, name, `${here()}/${name}`);
        throw new NotFoundError(`no such file or directory in the container: ${here()}/${name}`);
      }
      if (stats.isSymbolicLink() && (!last || followLast)) {
        if (++links > MAX_SYMLINKS) throw new InvalidArgumentError(`too many levels of symbolic links in ${path}`);
        const target = await readlink(below(top.dir, name)).catch((error: NodeJS.ErrnoException) => {
          throw changedError(error, `${here()}/${name}`);
        });
        if (target.startsWith('/')) stack.splice(1);
        pending.unshift(...components(target));
        continue;
      }
      if (last) return result(top.dir, name, `${here()}/${name}`, stats);
      if (!stats.isDirectory()) throw new InvalidArgumentError(`not a directory in the container: ${here()}/${name}`);
      const dir = await this.openDir(top.dir, name, `${here()}/${name}`);
      opened.push(dir);
      stack.push({ name, dir });
    }
    // The path named the root (or a directory reached through `..`): hand back that directory's parent.
    const top = stack[stack.length - 1] as { name: string; dir: FileHandle };
    if (stack.length === 1) return result(this.root, '', '/', await this.root.stat());
    const parent = (stack[stack.length - 2] as { dir: FileHandle }).dir;
    return result(parent, top.name, here(), await lstat(below(parent, top.name)));
  }

  /** Opens a directory below `parent`; a symlink swapped in answers ELOOP, which becomes a conflict. */
  openDir(parent: FileHandle, name: string, shownPath: string): Promise<FileHandle> {
    return open(below(parent, name), DIR_FLAGS).catch((error: NodeJS.ErrnoException) => {
      throw changedError(error, shownPath);
    });
  }

  /** Opens what `resolved` names without following a symlink (the file itself; O_NONBLOCK so a FIFO does not hang). */
  async openResolved(resolved: Resolved, flags: number, mode?: number): Promise<FileHandle> {
    const path = below(resolved.parent, resolved.name || '.');
    return open(path, flags | constants.O_NOFOLLOW, mode).catch((error: NodeJS.ErrnoException) => {
      throw changedError(error, resolved.path);
    });
  }
}

function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * A file-system error of a copy, as the caller should read it. ELOOP/ENOTDIR on an O_NOFOLLOW
 * open: the path changed under the walk (a symlink swapped in). A full disk passes unchanged (the
 * agent names it for the host); typed errors pass unchanged.
 */
export function changedError(error: NodeJS.ErrnoException, path: string): Error {
  const code = typeof error.code === 'string' ? error.code : '';
  // EINVAL: a readlink of what was a symlink when listed and is not any more.
  if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EINVAL') return new ConflictError(`${path} changed in the container during the copy (a symbolic link appeared): nothing was followed`);
  if (code === 'ENOENT') return new NotFoundError(`no such file or directory in the container: ${path}`);
  if (code === 'EROFS') return new ConflictError(`${path} is on a read-only file system in the container`);
  if (code === 'ENOTEMPTY' || code === 'EEXIST') return new ConflictError(`${path} changed in the container during the copy (${code})`);
  if (/^E[A-Z0-9]+$/.test(code) && code !== 'ENOSPC' && code !== 'EDQUOT') return new ConflictError(`copying ${path} failed: ${code}`);
  return error;
}

/** Paths whose files are the kernel's, not the container's: Docker does not copy them either. */
export function isKernelPath(path: string): boolean {
  return /^\/(proc|sys|dev)(\/|$)/.test(path);
}
