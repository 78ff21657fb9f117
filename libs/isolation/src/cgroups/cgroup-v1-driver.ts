import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupError } from '../errors';
import { weightToShares, type CgroupDriver, type CgroupLimits, type CgroupStats } from './cgroup-driver';
import {
  checkId, checkParent, collectPids, exists, isErrno, killAll, readKeyed, readNumber, readText, removeCgroupDir, sleep,
  subdirs, writeValue,
} from './cgroup-fs';
import { DEFAULT_DEVICE_RULES } from './devices';
import { parseMountInfo, v1Hierarchies } from './mountinfo';

export interface CgroupV1Options {
  /** Directory below each hierarchy root. Default `muelle`; may be nested (`muelle/host-a`). */
  parent?: string;
  /** Source of the hierarchy mount points. Default /proc/self/mountinfo. */
  mountInfoPath?: string;
}

const REQUIRED = ['memory', 'cpu', 'cpuacct', 'pids', 'devices'] as const;
const OPTIONAL = ['freezer'] as const;
type Controller = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];

/** v1 limits above this are "unlimited" (the kernel reports PAGE_COUNTER_MAX pages). */
const V1_UNLIMITED = 2 ** 62;

/**
 * cgroup v1 (and hybrid hosts, where v2 holds no resource controllers): one directory per
 * hierarchy, `<mount>/<parent>/<id>`. The container never sees cgroupfs writable: the helper
 * gives it a cgroup namespace and a read-only /sys. Every cgroup gets Docker's device policy
 * (`devices.deny a`, then DEFAULT_DEVICE_RULES) before anything joins it.
 */
export class CgroupV1Driver implements CgroupDriver {
  readonly version = 1 as const;
  private readonly parent: string;
  private readonly mountInfoPath: string;
  private mounts?: Map<Controller, string>;

  constructor(options: CgroupV1Options = {}) {
    this.parent = options.parent ?? 'muelle';
    checkParent(this.parent);
    this.mountInfoPath = options.mountInfoPath ?? '/proc/self/mountinfo';
  }

  /** Controller → hierarchy mount point, read once (synchronously, so paths() can be sync). */
  private hierarchies(): Map<Controller, string> {
    if (this.mounts) return this.mounts;
    const all = v1Hierarchies(parseMountInfo(readFileSync(this.mountInfoPath, 'utf8')));
    const mounts = new Map<Controller, string>();
    for (const c of [...REQUIRED, ...OPTIONAL]) {
      const mount = all.get(c);
      if (mount) mounts.set(c, mount);
      else if ((REQUIRED as readonly string[]).includes(c)) throw new CgroupError(`cgroup v1 controller "${c}" is not mounted`);
    }
    this.mounts = mounts;
    return mounts;
  }

  private dir(mounts: Map<Controller, string>, controller: Controller, id: string): string {
    return join(mounts.get(controller) as string, this.parent, id);
  }

  paths(id: string): string[] {
    checkId(id);
    return [...new Set([...this.hierarchies().values()])].map((mount) => join(mount, this.parent, id));
  }

  async create(id: string, limits: CgroupLimits = {}): Promise<void> {
    checkId(id);
    const mounts = this.hierarchies();
    const dirs = this.paths(id);
    for (const dir of dirs) {
      if (await exists(dir)) throw new CgroupError(`cgroup ${dir} already exists`, dir);
    }
    try {
      for (const dir of dirs) await fs.mkdir(dir, { recursive: true });
      await this.applyDevicePolicy(this.dir(mounts, 'devices', id));
      await this.applyLimits(mounts, id, limits);
    } catch (err) {
      await this.destroy(id).catch(() => undefined); // the create error below is the one to report; leftovers are swept at the next start
      throw err instanceof CgroupError ? err : new CgroupError(`cannot create cgroup ${id}: ${(err as Error).message}`, undefined, err);
    }
  }

  async update(id: string, limits: CgroupLimits): Promise<void> {
    checkId(id);
    const mounts = this.hierarchies();
    if (!(await exists(this.dir(mounts, 'memory', id)))) throw new CgroupError(`cgroup ${id} does not exist`);
    await this.applyLimits(mounts, id, limits);
  }

  /** Deny everything first, then allow the list: a failure leaves a cgroup that opens nothing. */
  private async applyDevicePolicy(dir: string): Promise<void> {
    await writeValue(dir, 'devices.deny', 'a');
    for (const rule of DEFAULT_DEVICE_RULES) await writeValue(dir, 'devices.allow', rule);
  }

  private async applyLimits(mounts: Map<Controller, string>, id: string, limits: CgroupLimits): Promise<void> {
    if (limits.memoryBytes !== undefined) {
      const memory = this.dir(mounts, 'memory', id);
      const value = positiveInt(limits.memoryBytes, 'memoryBytes');
      const hasSwapLimit = await exists(join(memory, 'memory.memsw.limit_in_bytes'));
      // memsw must stay >= memory: lower memory first, raise memsw first.
      try {
        await writeValue(memory, 'memory.limit_in_bytes', value);
        if (hasSwapLimit) await writeValue(memory, 'memory.memsw.limit_in_bytes', value);
      } catch (err) {
        if (!hasSwapLimit) throw err;
        await writeValue(memory, 'memory.memsw.limit_in_bytes', value);
        await writeValue(memory, 'memory.limit_in_bytes', value);
      }
    }
    const cpu = this.dir(mounts, 'cpu', id);
    const shares = limits.cpuWeight !== undefined ? weightToShares(limits.cpuWeight) : limits.cpuShares;
    if (shares !== undefined) await writeValue(cpu, 'cpu.shares', positiveInt(shares, 'cpuShares'));
    if (limits.cpuQuota) {
      await writeValue(cpu, 'cpu.cfs_period_us', positiveInt(limits.cpuQuota.periodUs, 'periodUs'));
      await writeValue(cpu, 'cpu.cfs_quota_us', positiveInt(limits.cpuQuota.quotaUs, 'quotaUs'));
    }
    if (limits.pidsMax !== undefined) await writeValue(this.dir(mounts, 'pids', id), 'pids.max', positiveInt(limits.pidsMax, 'pidsMax'));
  }

  async stats(id: string): Promise<CgroupStats> {
    checkId(id);
    const mounts = this.hierarchies();
    const memory = this.dir(mounts, 'memory', id);
    const pids = this.dir(mounts, 'pids', id);
    if (!(await exists(memory))) throw new CgroupError(`cgroup ${id} does not exist`, memory);
    const limit = await readNumber(memory, 'memory.limit_in_bytes');
    const memStat = await readKeyed(memory, 'memory.stat');
    const cpuStat = await readKeyed(this.dir(mounts, 'cpu', id), 'cpu.stat');
    return {
      cpuUsageNs: (await readNumber(this.dir(mounts, 'cpuacct', id), 'cpuacct.usage')) ?? 0,
      cpuThrottledPeriods: cpuStat.get('nr_throttled') ?? null,
      memoryUsageBytes: await readNumber(memory, 'memory.usage_in_bytes'),
      memoryLimitBytes: limit === null || limit >= V1_UNLIMITED ? null : limit,
      memoryInactiveFileBytes: memStat.get('total_inactive_file') ?? null,
      pidsCurrent: await readNumber(pids, 'pids.current'),
      pidsLimit: await readNumber(pids, 'pids.max'),
      oomKillCount: (await readKeyed(memory, 'memory.oom_control')).get('oom_kill') ?? 0,
    };
  }

  async oomKilled(id: string): Promise<boolean> {
    return (await this.stats(id)).oomKillCount > 0;
  }

  async pids(id: string): Promise<number[]> {
    checkId(id);
    const all = new Set<number>();
    for (const dir of this.paths(id)) for (const pid of await collectPids(dir)) all.add(pid);
    return [...all];
  }

  async list(): Promise<string[]> {
    const mounts = this.hierarchies();
    return subdirs(join(mounts.get('memory') as string, this.parent));
  }

  async destroy(id: string): Promise<void> {
    checkId(id);
    const mounts = this.hierarchies();
    const freezer = mounts.has('freezer') ? this.dir(mounts, 'freezer', id) : null;
    // Freeze so nothing forks while we kill, SIGKILL everyone, thaw so the kills land; repeat.
    for (let round = 0; round < 50; round++) {
      const pids = await this.pids(id);
      if (pids.length === 0) break;
      const frozen = freezer !== null && (await this.freeze(freezer));
      killAll(pids);
      if (frozen) await writeValue(freezer as string, 'freezer.state', 'THAWED').catch(() => undefined); // gone once emptied: nothing to thaw
      await sleep(round < 5 ? 5 : 20);
    }
    for (const dir of this.paths(id)) await removeCgroupDir(dir);
  }

  private async freeze(dir: string): Promise<boolean> {
    try {
      await fs.writeFile(join(dir, 'freezer.state'), 'FROZEN');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
    for (let i = 0; i < 50; i++) {
      if ((await readText(dir, 'freezer.state'))?.trim() === 'FROZEN') return true;
      await sleep(2);
    }
    return true;
  }
}

function positiveInt(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new CgroupError(`${what} must be a positive integer, got ${value}`);
  return value;
}
