import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { HostRecord, HostUsage, hostUsage, listHosts } from '@muelle/contracts';

/** Every host and what is reserved on it: the scheduler's view of the cluster. */
@Injectable()
export class Cluster {
  constructor(private readonly bus: BusClient) {}

  async hosts(): Promise<HostRecord[]> {
    const all: HostRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bus.request(listHosts, { limit: 1000, cursor });
      all.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  }

  async usages(): Promise<HostUsage[]> {
    return (await this.usageSnapshot()).hosts;
  }

  /** Usage with the placement generation it is current for (see `Placer`). */
  usageSnapshot(): Promise<{ hosts: HostUsage[]; placementGeneration: number }> {
    return this.bus.request(hostUsage, {});
  }
}

/** Runs tasks one after another (the `Placer` queues this replica's decisions with it). */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined); // the queue only orders tasks; the caller gets `result` and its error
    return result;
  }
}
