import { type BigIntStats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { opaqueEntry, whiteoutEntry, type LayerEntry } from '@muelle/oci';
import { unlessAbsent } from '@muelle/service-kit';

/** Same bound as the kernel's path resolution. */
const MAX_SYMLINK_FOLLOWS = 40;

/**
 * Resolves `target` (absolute or relative to `/`) inside `root` the way a chroot would:
 * symlinks met on the way — absolute or relative — are followed as if `root` were `/`, and `..`
 * never climbs above it. With `followFinal: false` the last component is not followed (what a
 * write to that name needs). Returns the host path (which may not exist yet).
 */
export async function resolveInRoot(root: string, target: string, followFinal = true): Promise<string> {
  let pending = target.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let follows = 0;
  while (pending.length > 0) {
    const component = pending.shift() as string;
    if (component === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = path.join(root, ...resolved, component);
    const isFinal = pending.length === 0;
    const stat = await unlessAbsent(fs.lstat(hostPath), undefined);
    if (stat?.isSymbolicLink() && (!isFinal || followFinal)) {
      if (++follows > MAX_SYMLINK_FOLLOWS) throw new Error(`too many levels of symbolic links resolving ${target}`);
      const link = await fs.readlink(hostPath);
      if (link.startsWith('/')) resolved.length = 0;
      pending = [...link.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
      continue;
    }
    resolved.push(component);
  }
  return path.join(root, ...resolved);
}

/** Creates every missing directory of `relativeDir` inside `root` (resolved in root), 0755 root-owned. */
export async function mkdirInRoot(root: string, relativeDir: string, owner?: { uid: number; gid: number }): Promise<string> {
  const components = relativeDir.split('/').filter((c) => c !== '' && c !== '.');
  let current = '/';
  for (const component of components) {
    current = path.posix.join(current, component);
    const hostPath = await resolveInRoot(root, current);
    const stat = await unlessAbsent(fs.lstat(hostPath), undefined);
    if (!stat) {
      await fs.mkdir(hostPath, { mode: 0o755 });
      if (owner) await fs.lchown(hostPath, owner.uid, owner.gid);
    } else if (!stat.isDirectory()) throw new Error(`${current} exists and is not a directory`);
  }
  return resolveInRoot(root, relativeDir);
}

/**
 * Copies a directory tree keeping everything a layer diff looks at: type, mode, owner, mtime
 * (microsecond precision), symlink targets and hardlinks. Devices and sockets cannot be made
 * from Node and are skipped.
 */
export async function copyTree(source: string, destination: string): Promise<void> {
  // Siblings are copied concurrently: a second name of an inode waits for the first copy to land.
  const inodes = new Map<string, { path: string; copied: Promise<void> }>();
  const copyEntry = async (from: string, to: string, stat: BigIntStats): Promise<void> => {
    if (stat.isDirectory()) {
      await fs.mkdir(to, { recursive: false }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      const names = await fs.readdir(from);
      await Promise.all(names.map(async (name) => copyEntry(path.join(from, name), path.join(to, name), await fs.lstat(path.join(from, name), { bigint: true }))));
    } else if (stat.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(from), to);
    } else if (stat.isFile()) {
      const inode = `${stat.dev}:${stat.ino}`;
      const first = stat.nlink > 1n ? inodes.get(inode) : undefined;
      if (first) {
        await first.copied;
        await fs.link(first.path, to);
        return;
      }
      const copied = fs.copyFile(from, to);
      if (stat.nlink > 1n) inodes.set(inode, { path: to, copied: copied.catch(() => undefined) }); // its error is thrown just below
      await copied;
    } else return;
    await fs.lchown(to, Number(stat.uid), Number(stat.gid));
    if (!stat.isSymbolicLink()) await fs.chmod(to, Number(stat.mode & 0o7777n));
    await fs.lutimes(to, Number(stat.atimeNs) / 1e9, Number(stat.mtimeNs) / 1e9);
  };
  const rootStat = await fs.lstat(source, { bigint: true });
  await copyEntry(source, destination, rootStat);
}

/** Directories and files the isolation helper creates as mount points; never part of a RUN layer. */
const MOUNT_POINTS = new Set(['proc', 'sys', 'dev']);

export interface DiffOptions {
  /** Anything whose ctime is at or after this (ns) was touched by the step, whatever its mtime says. */
  changedSinceNs?: bigint;
}

/**
 * The layer that turns `lower` into `upper`: new and changed entries (with their parents) and
 * whiteouts for deletions. A change is a different type, mode, owner, size, mtime or link target,
 * or a ctime after `changedSinceNs` (ctime cannot be set from user space, so back-dated writes
 * are caught too). Mount points the isolation helper made are skipped.
 */
export async function diffTrees(lower: string, upper: string, options: DiffOptions = {}): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  const inodes = new Map<string, string>();
  const since = options.changedSinceNs;

  const entryFor = async (hostPath: string, layerPath: string, stat: BigIntStats): Promise<LayerEntry | undefined> => {
    const base = { path: layerPath, mode: Number(stat.mode & 0o7777n), uid: Number(stat.uid), gid: Number(stat.gid), mtime: Number(stat.mtimeMs / 1000n) };
    if (stat.isDirectory()) return { ...base, type: 'directory' };
    if (stat.isSymbolicLink()) return { ...base, type: 'symlink', linkTarget: await fs.readlink(hostPath) };
    if (stat.isFile()) {
      const inode = `${stat.dev}:${stat.ino}`;
      const first = stat.nlink > 1n ? inodes.get(inode) : undefined;
      if (first) return { ...base, type: 'hardlink', linkTarget: first };
      if (stat.nlink > 1n) inodes.set(inode, layerPath);
      return { ...base, type: 'file', sourcePath: hostPath, size: Number(stat.size) };
    }
    if (stat.isFIFO()) return { ...base, type: 'fifo' };
    return undefined; // devices and sockets: not produced by our RUN steps (no mknod in Node to copy them back)
  };

  const addAll = async (hostDir: string, layerDir: string): Promise<void> => {
    for (const name of (await fs.readdir(hostDir)).sort()) {
      const hostPath = path.join(hostDir, name);
      const stat = await fs.lstat(hostPath, { bigint: true });
      const entry = await entryFor(hostPath, `${layerDir}${name}`, stat);
      if (entry) entries.push(entry);
      if (stat.isDirectory()) await addAll(hostPath, `${layerDir}${name}/`);
    }
  };

  const walk = async (lowerDir: string, upperDir: string, layerDir: string): Promise<void> => {
    const upperNames = new Set(await fs.readdir(upperDir));
    const lowerNames = await unlessAbsent(fs.readdir(lowerDir), [] as string[]);
    for (const name of lowerNames.sort()) {
      if (!upperNames.has(name)) entries.push(whiteoutEntry(`${layerDir}${name}`));
    }
    for (const name of [...upperNames].sort()) {
      if (layerDir === '' && MOUNT_POINTS.has(name)) {
        if (!lowerNames.includes(name)) continue;
        // Existing mount points: their content is hidden by the mounts during RUN.
        continue;
      }
      const upperPath = path.join(upperDir, name);
      const lowerPath = path.join(lowerDir, name);
      const upperStat = await fs.lstat(upperPath, { bigint: true });
      const lowerStat = await unlessAbsent(fs.lstat(lowerPath, { bigint: true }), undefined);
      const layerPath = `${layerDir}${name}`;
      if (!lowerStat || typeOf(lowerStat) !== typeOf(upperStat)) {
        const entry = await entryFor(upperPath, layerPath, upperStat);
        if (entry) entries.push(entry);
        if (upperStat.isDirectory()) await addAll(upperPath, `${layerPath}/`);
        continue;
      }
      if (changed(lowerStat, upperStat, since) || (upperStat.isSymbolicLink() && (await fs.readlink(lowerPath)) !== (await fs.readlink(upperPath)))) {
        const entry = await entryFor(upperPath, layerPath, upperStat);
        if (entry) entries.push(entry);
      }
      if (upperStat.isDirectory()) await walk(lowerPath, upperPath, `${layerPath}/`);
    }
  };
  await walk(lower, upper, '');
  // Every entry's parent directories go in too (with their new attributes), as Docker writes them.
  const present = new Set(entries.map((e) => e.path));
  const parents: LayerEntry[] = [];
  for (const entry of entries) {
    const components = entry.path.split('/');
    for (let i = 1; i < components.length; i++) {
      const parent = components.slice(0, i).join('/');
      if (present.has(parent)) continue;
      present.add(parent);
      const stat = await fs.lstat(path.join(upper, parent), { bigint: true });
      parents.push({ path: parent, type: 'directory', mode: Number(stat.mode & 0o7777n), uid: Number(stat.uid), gid: Number(stat.gid), mtime: Number(stat.mtimeMs / 1000n) });
    }
  }
  return [...entries, ...parents];
}

function typeOf(stat: BigIntStats): string {
  if (stat.isDirectory()) return 'dir';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isFile()) return 'file';
  return 'other';
}

function changed(lower: BigIntStats, upper: BigIntStats, sinceNs: bigint | undefined): boolean {
  if (lower.mode !== upper.mode || lower.uid !== upper.uid || lower.gid !== upper.gid) return true;
  if (!upper.isDirectory() && lower.size !== upper.size) return true;
  // Copies keep mtimes only to about a microsecond: Node's utimes takes a double of seconds and the
  // kernel call it makes rounds to microseconds (measured: up to 1.2 µs lost). Compare with a 2 µs
  // tolerance, not by truncation, which flips when the rounding crosses a boundary.
  const drift = lower.mtimeNs - upper.mtimeNs;
  if (drift >= 2000n || drift <= -2000n) return true;
  return sinceNs !== undefined && upper.ctimeNs >= sinceNs;
}

/**
 * The layer a RUN step made, read from its overlayfs upper directory: everything there is new or
 * changed (overlay copies a file up, with its parent directories, before the first write), a 0:0
 * character device is a deletion (`.wh.<name>`), and a directory the overlay marked opaque (it was
 * removed and made again) hides everything below it in the lower layers (`.wh..wh..opq`).
 * `opaqueDirs` are relative paths (`.` = the root), read by the caller since Node cannot read xattrs.
 * The mount points the isolation helper makes at the top (proc, sys, dev) are left out.
 */
export async function layerFromUpperDir(upper: string, opaqueDirs: ReadonlySet<string>): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  const inodes = new Map<string, string>();
  if (opaqueDirs.has('.')) entries.push(opaqueEntry(''));
  const walk = async (hostDir: string, layerDir: string): Promise<void> => {
    for (const name of (await fs.readdir(hostDir)).sort()) {
      if (layerDir === '' && MOUNT_POINTS.has(name)) continue;
      const hostPath = path.join(hostDir, name);
      const layerPath = `${layerDir}${name}`;
      const stat = await fs.lstat(hostPath, { bigint: true });
      if (stat.isCharacterDevice() && stat.rdev === 0n) {
        entries.push(whiteoutEntry(layerPath));
        continue;
      }
      const base = { path: layerPath, mode: Number(stat.mode & 0o7777n), uid: Number(stat.uid), gid: Number(stat.gid), mtime: Number(stat.mtimeMs / 1000n) };
      if (stat.isDirectory()) {
        entries.push({ ...base, type: 'directory' });
        if (opaqueDirs.has(layerPath)) entries.push(opaqueEntry(layerPath));
        await walk(hostPath, `${layerPath}/`);
      } else if (stat.isSymbolicLink()) {
        entries.push({ ...base, type: 'symlink', linkTarget: await fs.readlink(hostPath) });
      } else if (stat.isFile()) {
        const inode = `${stat.dev}:${stat.ino}`;
        const first = stat.nlink > 1n ? inodes.get(inode) : undefined;
        if (first) entries.push({ ...base, type: 'hardlink', linkTarget: first });
        else {
          if (stat.nlink > 1n) inodes.set(inode, layerPath);
          entries.push({ ...base, type: 'file', sourcePath: hostPath, size: Number(stat.size) });
        }
      } else if (stat.isFIFO()) {
        entries.push({ ...base, type: 'fifo' });
      }
    }
  };
  await walk(upper, '');
  return entries;
}
