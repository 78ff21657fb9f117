import { constants, type Stats } from "node:fs";
import {
  chmod,
  copyFile,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readlink,
  symlink,
} from "node:fs/promises";
import { join } from "node:path";
import { ContainerSpec, InvalidArgumentError } from "@muelle/contracts";
import { directoryRoot, locateInRoot, type RootView } from "@muelle/images";
import type { HostFs } from "@muelle/isolation";
import type { VolumeStore } from "./volume-store";

/** Device and FIFO nodes are made by the root helper (Node has no mknod). */
export type NodeMaker = Pick<HostFs, "mknod">;

/** What `prepareVolumes` needs of the container being created and of its host. */
export interface CopyUpContext {
  spec: ContainerSpec;
  /** The image's layers seen merged without a mount: a cheap "is there anything at the path". */
  image: RootView;
  volumes: Pick<VolumeStore, "ensure" | "dataPath">;
  /** The host's other containers: a volume one of them mounts is not filled (it could write while we copy). */
  others: ReadonlyArray<Pick<ContainerSpec, "volumes">>;
  /** Runs `work` on the container's root mounted on the host (whiteouts and opaque dirs the kernel's). */
  onMountedRoot(work: (rootPath: string) => Promise<void>): Promise<void>;
  nodes: NodeMaker;
}

/**
 * Makes the container's volumes that do not exist yet; then Docker's copy-up, before it first starts: a volume that is empty and no other
 * container of the host mounts gets what the image has at its mount point (contents, owners,
 * modes, times, hard links, and the directory's own owner and mode), as dockerd's
 * CopyImagePathContent. Nothing is mounted unless some volume has something to receive.
 */
export async function prepareVolumes(
  context: CopyUpContext,
): Promise<string[]> {
  const wanted: Array<{ target: string; dir: string }> = [];
  for (const volume of context.spec.volumes) {
    if (volume.kind !== "volume") continue;
    await context.volumes.ensure(volume.source);
    if (
      context.others.some((o) =>
        o.volumes.some(
          (v) => v.kind === "volume" && v.source === volume.source,
        ),
      )
    )
      continue;
    const dir = context.volumes.dataPath(volume.source);
    if ((await readdir(dir)).length) continue;
    if ((await locateInRoot(context.image, volume.target))?.stat.isDirectory())
      wanted.push({ target: volume.target, dir });
  }
  if (!wanted.length) return [];
  await context.onMountedRoot(async (rootPath) => {
    for (const { target, dir } of wanted)
      await copyUp(rootPath, target, dir, context.nodes);
  });
  return wanted.map((w) => w.target);
}

/**
 * Copies the directory at `target` inside the root (symlinks on the way resolved in it) into the
 * empty `volumeDir`, without following any symlink it holds. Returns whether it was a directory.
 */
export async function copyUp(
  rootPath: string,
  target: string,
  volumeDir: string,
  nodes: NodeMaker,
): Promise<boolean> {
  const found = await locateInRoot(directoryRoot(rootPath), target);
  if (!found?.stat.isDirectory()) return false;
  await copyChildren(found.hostPath, volumeDir, nodes, new Map());
  await copyMetadata(volumeDir, found.stat);
  return true;
}

async function copyChildren(
  from: string,
  to: string,
  nodes: NodeMaker,
  linked: Map<string, string>,
): Promise<void> {
  for (const name of await readdir(from)) {
    const source = join(from, name);
    const dest = join(to, name);
    const stat = await lstat(source);
    const inode = `${stat.dev}:${stat.ino}`;
    if (!stat.isDirectory() && stat.nlink > 1 && linked.has(inode)) {
      await link(linked.get(inode) as string, dest);
      continue;
    }
    if (stat.isDirectory()) {
      await mkdir(dest, { mode: 0o700 });
      await copyChildren(source, dest, nodes, linked);
    } else if (stat.isFile())
      await copyFile(source, dest, constants.COPYFILE_EXCL);
    else if (stat.isSymbolicLink()) await symlink(await readlink(source), dest);
    else if (stat.isFIFO()) await nodes.mknod(dest, "fifo", stat.mode, 0, 0);
    else if (stat.isCharacterDevice() || stat.isBlockDevice())
      await nodes.mknod(
        dest,
        stat.isCharacterDevice() ? "char" : "block",
        stat.mode,
        major(stat.rdev),
        minor(stat.rdev),
      );
    // A socket is a listener's address, nothing to copy (dockerd's copy leaves them out as well).
    else if (stat.isSocket()) continue;
    else
      throw new InvalidArgumentError(
        `cannot copy ${source} of the image into a volume: unknown file type`,
      );
    if (stat.nlink > 1 && !stat.isDirectory()) linked.set(inode, dest);
    await copyMetadata(dest, stat);
  }
}

/** Owner first (chown clears setuid/setgid), then mode, then times (a directory's after its children). */
async function copyMetadata(dest: string, stat: Stats): Promise<void> {
  await lchown(dest, stat.uid, stat.gid);
  // chmod follows symlinks, and a symlink's own mode means nothing on Linux.
  if (!stat.isSymbolicLink()) await chmod(dest, stat.mode & 0o7777);
  await lutimes(dest, stat.atime, stat.mtime);
}

/** glibc's gnu_dev_major/minor of a 64-bit dev_t. */
const major = (dev: number) =>
  Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
const minor = (dev: number) =>
  Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
