import { ContainerStats } from '@muelle/contracts';

/** docker's formula: container CPU time over host CPU time between two samples, times the CPUs. */
export function cpuPercent(previous: ContainerStats, current: ContainerStats): number {
  const container = current.cpuUsageNs - previous.cpuUsageNs;
  const system = current.systemCpuUsageNs - previous.systemCpuUsageNs;
  if (container <= 0 || system <= 0) return 0;
  return Math.round((container / system) * current.onlineCpus * 100 * 100) / 100;
}
