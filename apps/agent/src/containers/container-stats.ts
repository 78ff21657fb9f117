import { totalmem } from 'node:os';
import { ConflictError, ContainerStats } from '@muelle/contracts';
import type { CgroupDriver } from '@muelle/isolation';
import { ContainerRecordOnDisk } from './container-record';
import { networkCounters, systemCpu } from './proc';

/** One sample of a running container's usage: its cgroup, the host's CPU time and its network counters. */
export async function containerStats(cgroups: CgroupDriver, record: ContainerRecordOnDisk): Promise<ContainerStats> {
  if (record.state !== 'running') throw new ConflictError(`container ${record.id} is not running`);
  const [cg, sys] = await Promise.all([cgroups.stats(record.id), systemCpu()]);
  return {
    id: record.id,
    at: new Date().toISOString(),
    cpuUsageNs: cg.cpuUsageNs,
    systemCpuUsageNs: sys.ns,
    onlineCpus: sys.cpus,
    memoryUsageBytes: cg.memoryUsageBytes ?? 0,
    memoryLimitBytes: cg.memoryLimitBytes ?? totalmem(),
    memoryInactiveFileBytes: cg.memoryInactiveFileBytes ?? 0,
    pidsCurrent: cg.pidsCurrent ?? 0,
    pidsLimit: cg.pidsLimit,
    oomKills: cg.oomKillCount,
    networks: record.initPid ? await networkCounters(record.initPid) : {},
  };
}
