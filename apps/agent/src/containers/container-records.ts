import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerRuntimeInfo, ContainerState, ContainerStateChange, NotFoundError } from '@muelle/contracts';
import { OUTPUT_LOG_FILE } from '@muelle/isolation';
import type { Logger } from 'pino';
import { containerPaths, ContainerPaths } from './container-paths';
import { ContainerRecordOnDisk } from './container-record';
import type { HealthMonitor } from './health/health-monitor';

export interface ContainerRecordsOptions {
  hostId: string;
  containersDir: string;
  emit: (change: ContainerStateChange) => void;
  logger: Logger;
}

/**
 * The records of this host's containers: in memory, on disk (`state.json`, written atomically)
 * and announced (`containerStateChanged`) on every state change.
 */
export class ContainerRecords {
  private readonly records = new Map<string, ContainerRecordOnDisk>();
  private readonly saves = new Map<string, Promise<void>>();

  /** Health checks follow the container: probes run while it runs, its state is in `info`. */
  health?: HealthMonitor;

  constructor(private readonly options: ContainerRecordsOptions) {}

  private followHealth(record: ContainerRecordOnDisk, state: ContainerState): void {
    if (!this.health) return;
    if (state === 'running' && record.healthcheck) this.health.started(record.id, record.healthcheck, record.startedAt);
    else if (state === 'dead') this.health.forget(record.id);
    else if (state !== 'running') this.health.stopped(record.id);
  }

  paths(id: string): ContainerPaths {
    return containerPaths(this.options.containersDir, id);
  }

  /** Reads every record on disk; folders of creates that crashed before their record was written are removed. */
  async load(): Promise<void> {
    await mkdir(this.options.containersDir, { recursive: true });
    for (const id of await readdir(this.options.containersDir)) {
      let record: ContainerRecordOnDisk;
      try {
        record = JSON.parse(await readFile(this.paths(id).state, 'utf8')) as ContainerRecordOnDisk;
      } catch {
        // A create that crashed before its record was written.
        await rm(this.paths(id).dir, { recursive: true, force: true });
        continue;
      }
      this.records.set(id, record);
    }
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  find(id: string): ContainerRecordOnDisk | undefined {
    return this.records.get(id);
  }

  get(id: string): ContainerRecordOnDisk {
    const record = this.records.get(id);
    if (!record) throw new NotFoundError(`no such container on host ${this.options.hostId}: ${id}`);
    return record;
  }

  all(): ContainerRecordOnDisk[] {
    return [...this.records.values()];
  }

  add(record: ContainerRecordOnDisk): void {
    this.records.set(record.id, record);
  }

  delete(id: string): void {
    this.records.delete(id);
  }

  /**
   * Writes the record atomically. Saves of one container run one after another: two at once
   * (a stop during a restart back-off) shared the temp file and the second rename failed.
   */
  save(record: ContainerRecordOnDisk): Promise<void> {
    const previous = this.saves.get(record.id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const file = this.paths(record.id).state;
      await writeFile(`${file}.tmp`, JSON.stringify(record));
      await rename(`${file}.tmp`, file);
    });
    const tail = next.catch(() => undefined); // the caller gets the error from `next`; the chain only waits
    this.saves.set(record.id, tail);
    void tail.then(() => this.saves.get(record.id) === tail && this.saves.delete(record.id));
    return next;
  }

  /** Sets the state and announces it. */
  changed(record: ContainerRecordOnDisk, state: ContainerState): void {
    record.state = state;
    this.followHealth(record, state);
    try {
      this.options.emit({
        id: record.id,
        hostId: this.options.hostId,
        state,
        exitCode: record.exitCode,
        oomKilled: record.oomKilled,
        restartCount: record.restartCount,
        imageDigest: record.imageDigest,
        // The container's own times, so a re-adoption or an exit seen late does not move them.
        startedAt: state === 'running' || state === 'exited' ? (record.startedAt ?? undefined) : undefined,
        finishedAt: state === 'exited' ? (record.finishedAt ?? undefined) : undefined,
        at: new Date().toISOString(),
      });
    } catch (error) {
      this.options.logger.warn({ err: error, id: record.id }, 'state event not sent');
    }
  }

  info(id: string): ContainerRuntimeInfo {
    const r = this.get(id);
    const paths = this.paths(id);
    return {
      id: r.id,
      name: r.name,
      hostId: this.options.hostId,
      image: r.image,
      imageDigest: r.imageDigest,
      spec: r.spec,
      state: r.state,
      pid: r.state === 'running' ? r.initPid : null,
      exitCode: r.exitCode,
      oomKilled: r.oomKilled,
      error: r.error,
      restartCount: r.restartCount,
      stoppedByUser: r.stoppedByUser,
      ipAddress: r.ipAddress,
      gateway: r.gateway,
      macAddress: r.macAddress,
      ports: r.ports,
      createdAt: r.createdAt,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      logPath: join(paths.logs, OUTPUT_LOG_FILE),
      rootfsPath: paths.rootfs,
      health: this.health?.healthOf(id),
    };
  }
}
