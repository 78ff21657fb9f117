import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { CgroupDriver } from './cgroup-driver';
import { CgroupV1Driver, type CgroupV1Options } from './cgroup-v1-driver';
import { CgroupV2Driver, type CgroupV2Options } from './cgroup-v2-driver';

export const CGROUP2_SUPER_MAGIC = 0x63677270;

/** `v2`: unified; `hybrid`: v1 controllers plus a v2 tree at `unified/`; `v1`: legacy only. */
export type CgroupMode = 'v1' | 'hybrid' | 'v2';

async function isCgroup2(path: string): Promise<boolean> {
  try {
    return (await fs.statfs(path)).type === CGROUP2_SUPER_MAGIC;
  } catch {
    // No such mount point: not a cgroup2 hierarchy.
    return false;
  }
}

export async function detectCgroupMode(root = '/sys/fs/cgroup'): Promise<CgroupMode> {
  if (await isCgroup2(root)) return 'v2';
  return (await isCgroup2(join(root, 'unified'))) ? 'hybrid' : 'v1';
}

/** Picks the driver for this host; hybrid counts as v1 (its v2 tree has no resource controllers). */
export async function detectCgroupDriver(
  options: { root?: string } & CgroupV1Options & CgroupV2Options = {},
): Promise<CgroupDriver> {
  const mode = await detectCgroupMode(options.root);
  return mode === 'v2' ? new CgroupV2Driver(options) : new CgroupV1Driver(options);
}
