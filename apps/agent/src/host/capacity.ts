import { statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { HostCapacity } from '@muelle/contracts';

/** What this host offers to the scheduler: CPUs, memory and the disk under the data directory (size, free, low). */
export async function measureCapacity(dataDir: string, minFreeBytes: number): Promise<HostCapacity> {
  const disk = await statfs(dataDir);
  const diskFreeBytes = Number(disk.bavail) * Number(disk.bsize);
  return {
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
    diskBytes: Number(disk.blocks) * Number(disk.bsize),
    diskFreeBytes,
    diskLow: diskFreeBytes < minFreeBytes,
  };
}
