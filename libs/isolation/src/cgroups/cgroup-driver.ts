export interface CgroupLimits {
  /** Hard memory limit; swap is limited to the same amount (no extra swap). */
  memoryBytes?: number;
  /** v1 `cpu.shares` (2..262144, default 1024); converted to a weight on v2. */
  cpuShares?: number;
  /** v2 `cpu.weight` (1..10000, default 100); converted to shares on v1. Wins over cpuShares. */
  cpuWeight?: number;
  /** CFS bandwidth: at most quotaUs of CPU time per periodUs. */
  cpuQuota?: { quotaUs: number; periodUs: number };
  pidsMax?: number;
}

/** Counters read from the cgroup; null where the controller is not available. */
export interface CgroupStats {
  cpuUsageNs: number;
  /** CFS periods in which the cgroup was throttled (cpu.stat nr_throttled). */
  cpuThrottledPeriods: number | null;
  memoryUsageBytes: number | null;
  /** null = unlimited. */
  memoryLimitBytes: number | null;
  /** For `docker stats`: usage minus inactive file cache is the "used" memory. */
  memoryInactiveFileBytes: number | null;
  pidsCurrent: number | null;
  /** null = unlimited. */
  pidsLimit: number | null;
  oomKillCount: number;
}

export interface CgroupDriver {
  readonly version: 1 | 2;
  /** Creates the cgroup(s) for a container and applies the limits. Fails if it already exists. */
  create(id: string, limits?: CgroupLimits): Promise<void>;
  /** Changes limits of an existing cgroup (docker update). */
  update(id: string, limits: CgroupLimits): Promise<void>;
  /** Directories to hand to the helper (`cgroupPaths`); one per v1 hierarchy, one on v2. */
  paths(id: string): string[];
  stats(id: string): Promise<CgroupStats>;
  /** True once the kernel OOM-killed a process in this cgroup. */
  oomKilled(id: string): Promise<boolean>;
  /** Host pids in the cgroup (and its sub-cgroups). */
  pids(id: string): Promise<number[]>;
  /** Ids of existing container cgroups under this driver's parent (for startup cleanup). */
  list(): Promise<string[]>;
  /** Kills every remaining process and removes the cgroup(s). Missing cgroups are fine. */
  destroy(id: string): Promise<void>;
}

export const CGROUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** v1 shares → v2 weight, the linear mapping runc/crun use (2 → 1, 1024 → 39, 262144 → 10000). */
export function sharesToWeight(shares: number): number {
  const s = Math.min(Math.max(Math.round(shares), 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** v2 weight → v1 shares, the inverse of sharesToWeight (1 → 2, 100 → 2597, 10000 → 262144). */
export function weightToShares(weight: number): number {
  const w = Math.min(Math.max(Math.round(weight), 1), 10000);
  return 2 + Math.floor(((w - 1) * 262142) / 9999);
}
