import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Entries one measurement walks at most: a container with more answers no size rather than stalling the agent. */
const MAX_ENTRIES = 1_000_000;

/**
 * Bytes of the files under `dir` (regular files and symlinks by their size, directories by
 * their entry size, as `du --apparent-size` and dockerd's layer sizes count them; hard links
 * once). A missing directory is 0. Throws past `maxEntries`.
 */
export async function treeBytes(dir: string, maxEntries = MAX_ENTRIES): Promise<number> {
  let total = 0;
  let entries = 0;
  const seen = new Set<string>();
  const pending = [dir];
  while (pending.length) {
    const current = pending.pop() as string;
    let names: string[];
    try {
      names = await readdir(current);
    } catch (error) {
      // A directory removed while we walk (a file the container deletes), or no writable layer yet: nothing to count.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const name of names) {
      if (++entries > maxEntries) throw new Error(`more than ${maxEntries} entries under ${dir}`);
      const path = join(current, name);
      const stat = await lstat(path).catch((error: NodeJS.ErrnoException) => {
        // Gone between readdir and lstat: the container deleted it; it takes no space any more.
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (!stat) continue;
      if (stat.isDirectory()) pending.push(path);
      if (stat.nlink > 1 && !stat.isDirectory()) {
        const key = `${stat.dev}:${stat.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += stat.size;
    }
  }
  return total;
}

/**
 * `docker system df`'s container sizes, measured on the host: SizeRw is the container's writable
 * layer (its overlay upper directory), SizeRootFs that plus its image's layers. Layers never change
 * once unpacked, so their sizes are measured once per agent process.
 */
export class ContainerDiskUsage {
  private readonly layerBytes = new Map<string, Promise<number>>();

  constructor(private readonly layerPath: (diffId: string) => string) {}

  async measure(upperDir: string, layers: readonly string[]): Promise<{ sizeRw: number; sizeRootFs: number }> {
    const sizeRw = await treeBytes(upperDir);
    let image = 0;
    for (const layer of layers) image += await this.layer(layer);
    return { sizeRw, sizeRootFs: sizeRw + image };
  }

  private layer(diffId: string): Promise<number> {
    let size = this.layerBytes.get(diffId);
    if (!size) {
      size = treeBytes(this.layerPath(diffId));
      this.layerBytes.set(diffId, size);
      // A failed measurement is not kept: the next request tries again.
      size.catch(() => this.layerBytes.delete(diffId));
    }
    return size;
  }
}
