import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { CgroupControllerUnavailableError, CgroupError } from '../errors';
import { HostFs } from '../host-ops';
import { DEFAULT_DEVICE_RULES } from './devices';
import { sharesToWeight, type CgroupDriver, type CgroupLimits, type CgroupStats } from './cgroup-driver';
import {
  checkId, checkParent, collectPids, exists, killAll, readKeyed, readNumber, readText, removeCgroupDir, sleep, subdirs,
  writeValue,
} from './cgroup-fs';

export interface CgroupV2Options {
  /** Mount point of the cgroup2 hierarchy. Default /sys/fs/cgroup. */
  root?: string;
  /** Directory below the root holding one cgroup per container. Default `muelle`; may be nested (`muelle/host-a`). */
  parent?: string;
  /** Attaches the device program to a new cgroup; default the helper's `fsop devices` (HostFs). */
  attachDeviceFilter?: (dir: string, rules: readonly string[]) => Promise<void>;
}

const MANAGED = ['memory', 'cpu', 'pids'] as const;
type Controller = (typeof MANAGED)[number];

/**
 * cgroup v2: `<root>/<parent>/<id>`, controllers enabled top-down through cgroup.subtree_control.
 * Limits that need a controller the hierarchy lacks fail with CgroupControllerUnavailableError
 * instead of being silently skipped. Every cgroup gets Docker's device policy as an eBPF
 * BPF_PROG_TYPE_CGROUP_DEVICE program (v2 has no devices.allow) before anything joins it.
 */
export class CgroupV2Driver implements CgroupDriver {
  readonly version = 2 as const;
  readonly root: string;
  private readonly parent: string;
  private readonly attachDeviceFilter: (dir: string, rules: readonly string[]) => Promise<void>;

  constructor(options: CgroupV2Options = {}) {
    this.root = options.root ?? '/sys/fs/cgroup';
    this.parent = options.parent ?? 'muelle';
    this.attachDeviceFilter = options.attachDeviceFilter ?? ((dir, rules) => new HostFs().attachDeviceFilter(dir, rules));
    checkParent(this.parent);
  }

  private dir(id: string): string {
    return join(this.root, this.parent, id);
  }

  /** Controllers the root offers (cgroup.controllers); on hybrid hosts often none. */
  async availableControllers(): Promise<string[]> {
    const text = (await readText(this.root, 'cgroup.controllers')) ?? '';
    return text.split(/\s+/).filter(Boolean);
  }

  paths(id: string): string[] {
    checkId(id);
    return [this.dir(id)];
  }

  async create(id: string, limits: CgroupLimits = {}): Promise<void> {
    checkId(id);
    const available = await this.availableControllers();
    for (const c of requiredControllers(limits)) {
      if (!available.includes(c)) throw new CgroupControllerUnavailableError(c, this.root);
    }
    const dir = this.dir(id);
    if (await exists(dir)) throw new CgroupError(`cgroup ${dir} already exists`, dir);
    const enable = MANAGED.filter((c) => available.includes(c));
    // The parent may be nested (`muelle/<agent scope>`): every level hands the controllers down.
    const levels = [this.root];
    for (const part of this.parent.split('/').filter(Boolean)) levels.push(join(levels[levels.length - 1] as string, part));
    try {
      await fs.mkdir(levels[levels.length - 1] as string, { recursive: true });
      // Enable one controller at a time so one refusal names the culprit.
      for (const c of enable) {
        for (const level of levels) await writeValue(level, 'cgroup.subtree_control', `+${c}`);
      }
      await fs.mkdir(dir);
      await this.attachDeviceFilter(dir, DEFAULT_DEVICE_RULES);
      await this.applyLimits(dir, limits);
    } catch (err) {
      await this.destroy(id).catch(() => undefined); // the create error below is the one to report; leftovers are swept at the next start
      throw err instanceof CgroupError ? err : new CgroupError(`cannot create cgroup ${dir}: ${(err as Error).message}`, dir, err);
    }
  }

  async update(id: string, limits: CgroupLimits): Promise<void> {
    checkId(id);
    const dir = this.dir(id);
    if (!(await exists(dir))) throw new CgroupError(`cgroup ${dir} does not exist`, dir);
    const enabled = ((await readText(dir, 'cgroup.controllers')) ?? '').split(/\s+/);
    for (const c of requiredControllers(limits)) {
      if (!enabled.includes(c)) throw new CgroupControllerUnavailableError(c, dir);
    }
    await this.applyLimits(dir, limits);
  }

  private async applyLimits(dir: string, limits: CgroupLimits): Promise<void> {
    if (limits.memoryBytes !== undefined) {
      await writeValue(dir, 'memory.max', positiveInt(limits.memoryBytes, 'memoryBytes'));
      // Same meaning as v1 memsw = memory: no swap on top of the limit.
      if (await exists(join(dir, 'memory.swap.max'))) await writeValue(dir, 'memory.swap.max', 0);
    }
    const weight = limits.cpuWeight ?? (limits.cpuShares !== undefined ? sharesToWeight(limits.cpuShares) : undefined);
    if (weight !== undefined) await writeValue(dir, 'cpu.weight', positiveInt(weight, 'cpuWeight'));
    if (limits.cpuQuota) {
      const { quotaUs, periodUs } = limits.cpuQuota;
      await writeValue(dir, 'cpu.max', `${positiveInt(quotaUs, 'quotaUs')} ${positiveInt(periodUs, 'periodUs')}`);
    }
    if (limits.pidsMax !== undefined) await writeValue(dir, 'pids.max', positiveInt(limits.pidsMax, 'pidsMax'));
  }

  async stats(id: string): Promise<CgroupStats> {
    checkId(id);
    const dir = this.dir(id);
    if (!(await exists(dir))) throw new CgroupError(`cgroup ${dir} does not exist`, dir);
    // cpu.stat's usage_usec is a core file: present even without the cpu controller.
    const cpu = await readKeyed(dir, 'cpu.stat');
    const memStat = await readKeyed(dir, 'memory.stat');
    const hasMemory = await exists(join(dir, 'memory.max'));
    const hasPids = await exists(join(dir, 'pids.max'));
    return {
      cpuUsageNs: (cpu.get('usage_usec') ?? 0) * 1000,
      cpuThrottledPeriods: cpu.get('nr_throttled') ?? null,
      memoryUsageBytes: hasMemory ? await readNumber(dir, 'memory.current') : null,
      memoryLimitBytes: hasMemory ? await readNumber(dir, 'memory.max') : null,
      memoryInactiveFileBytes: memStat.get('inactive_file') ?? null,
      pidsCurrent: hasPids ? await readNumber(dir, 'pids.current') : null,
      pidsLimit: hasPids ? await readNumber(dir, 'pids.max') : null,
      oomKillCount: (await readKeyed(dir, 'memory.events')).get('oom_kill') ?? 0,
    };
  }

  async oomKilled(id: string): Promise<boolean> {
    return (await this.stats(id)).oomKillCount > 0;
  }

  pids(id: string): Promise<number[]> {
    checkId(id);
    return collectPids(this.dir(id));
  }

  list(): Promise<string[]> {
    return subdirs(join(this.root, this.parent));
  }

  async destroy(id: string): Promise<void> {
    checkId(id);
    const dir = this.dir(id);
    if (!(await exists(dir))) return;
    const canKill = await exists(join(dir, 'cgroup.kill'));   // kernel >= 5.14
    for (let round = 0; round < 50; round++) {
      const pids = await this.pids(id);
      if (pids.length === 0) break;
      if (canKill) await writeValue(dir, 'cgroup.kill', 1);
      else killAll(pids);
      await sleep(round < 5 ? 5 : 20);
    }
    await removeCgroupDir(dir);
  }
}

function requiredControllers(limits: CgroupLimits): Controller[] {
  const needed: Controller[] = [];
  if (limits.memoryBytes !== undefined) needed.push('memory');
  if (limits.cpuShares !== undefined || limits.cpuWeight !== undefined || limits.cpuQuota) needed.push('cpu');
  if (limits.pidsMax !== undefined) needed.push('pids');
  return needed;
}

function positiveInt(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new CgroupError(`${what} must be a positive integer, got ${value}`);
  return value;
}
