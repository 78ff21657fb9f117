import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidArgumentError } from '@muelle/contracts';

/** Same bound as the kernel's path resolution. */
const MAX_SYMLINK_FOLLOWS = 40;

/**
 * A root filesystem seen from outside: a path relative to its `/` → the host path holding it
 * (without following anything), or undefined when it does not exist there.
 */
export interface RootView {
  locate(relativePath: string): Promise<{ hostPath: string; stat: Stats } | undefined>;
}

/** Only "it is not there" is an answer; any other failure (EACCES, EIO) is the caller's to see. */
async function lstatIfPresent(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

/** A directory that is the root (a snapshot, a mounted rootfs, `/proc/<pid>/root`). */
export function directoryRoot(root: string): RootView {
  return {
    async locate(relativePath) {
      const hostPath = join(root, relativePath);
      const stat = await lstatIfPresent(hostPath);
      return stat ? { hostPath, stat } : undefined;
    },
  };
}

/**
 * Unpacked overlay layers, top-most first, seen merged without mounting them: the top-most layer
 * holding a path wins, an overlay whiteout (char device 0:0) hides lower ones. Opaque directories
 * (an xattr Node cannot read) are not honoured: lower files under them stay visible.
 */
export function layeredRoot(layerDirs: readonly string[]): RootView {
  return {
    async locate(relativePath) {
      for (const dir of layerDirs) {
        const hostPath = join(dir, relativePath);
        const stat = await lstatIfPresent(hostPath);
        if (!stat) continue;
        if (stat.isCharacterDevice() && stat.rdev === 0) return undefined;
        return { hostPath, stat };
      }
      return undefined;
    },
  };
}

/**
 * Resolves `path` inside the root the way a chroot would: symlinks met on the way, absolute or
 * relative, are followed as if the root were `/`, and `..` never climbs above it. Returns the
 * host path of the final component (not followed when it is a symlink and `followFinal` is false),
 * or undefined when something on the way does not exist.
 */
export async function locateInRoot(view: RootView, path: string, followFinal = true): Promise<{ hostPath: string; stat: Stats } | undefined> {
  let pending = path.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let follows = 0;
  let found: { hostPath: string; stat: Stats } | undefined = await view.locate('.');
  while (pending.length > 0) {
    const component = pending.shift() as string;
    if (component === '..') {
      resolved.pop();
      found = await view.locate(resolved.join('/') || '.');
      continue;
    }
    found = await view.locate([...resolved, component].join('/'));
    if (!found) return undefined;
    if (found.stat.isSymbolicLink() && (pending.length > 0 || followFinal)) {
      if (++follows > MAX_SYMLINK_FOLLOWS) throw new InvalidArgumentError(`too many levels of symbolic links resolving ${path} in the image`);
      const link = await readlink(found.hostPath);
      if (link.startsWith('/')) resolved.length = 0;
      pending = [...link.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
      continue;
    }
    if (pending.length > 0 && !found.stat.isDirectory()) return undefined;
    resolved.push(component);
  }
  return found;
}

/**
 * A regular file of the root, at most `maxBytes` long (a hostile image's 10 GB /etc/passwd must
 * not fill the caller's memory). Symlinks resolve inside the root; the file itself is opened with
 * O_NOFOLLOW, so a link swapped in after the lookup is refused rather than followed out of it.
 * Undefined when it does not exist or is not a regular file.
 */
export async function readFileInRoot(view: RootView, path: string, maxBytes: number): Promise<Buffer | undefined> {
  const found = await locateInRoot(view, path);
  if (!found?.stat.isFile()) return undefined;
  const handle = await open(found.hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return undefined;
    if (stat.size > maxBytes) throw new InvalidArgumentError(`${path} in the image is ${stat.size} bytes, over the ${maxBytes}-byte limit`);
    const buffer = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(buffer, 0, stat.size, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Whether `path` names an existing non-directory inside the root (symlinks resolved in it). */
export async function existsInRoot(view: RootView, path: string): Promise<boolean> {
  const found = await locateInRoot(view, posix.normalize(`/${path}`));
  return found !== undefined && !found.stat.isDirectory();
}
