import { ContainerStats } from '@muelle/contracts';
import { cpuPercent } from './stats';

const sample = (cpu: number, system: number): ContainerStats => ({
  id: 'a'.repeat(64),
  at: '2026-01-01T00:00:00Z',
  cpuUsageNs: cpu,
  systemCpuUsageNs: system,
  onlineCpus: 2,
  memoryUsageBytes: 0,
  memoryLimitBytes: 1,
  memoryInactiveFileBytes: 0,
  pidsCurrent: 1,
  pidsLimit: null,
  oomKills: 0,
  networks: {},
});

describe('cpu percent (docker formula)', () => {
  it('is container time over host time times the CPUs', () => {
    expect(cpuPercent(sample(0, 0), sample(500, 1000))).toBe(100);
    expect(cpuPercent(sample(0, 0), sample(125, 1000))).toBe(25);
  });
  it('is 0 without progress (first sample, idle container)', () => {
    expect(cpuPercent(sample(10, 10), sample(10, 20))).toBe(0);
  });
});
