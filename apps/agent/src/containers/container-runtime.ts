// size: ~415 lines: the per-container lock and the rules between operations; network connect/disconnect delegate to network/live-networks.ts.
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, ContainerRuntimeInfo, ContainerSpec, NetworkEndpoint, ContainerStateChange, ContainerStats, InvalidArgumentError, RegistryAuth, UnavailableError } from '@muelle/contracts';
import { helperPath } from '@muelle/isolation';
import { checkCommandExists, directoryRoot, layeredRoot, resolveUser, type RootView } from '@muelle/images';
import { ContainerLog, LogMark } from './container-log';
import { ContainerProcesses, ContainerProcessesOptions } from './container-processes';
import { ContainerRecordOnDisk } from './container-record';
import type { HealthMonitor } from './health/health-monitor';
import { resolveHealthcheck } from './health/healthcheck-config';
import { ContainerRecords } from './container-records';
import { checkPorts, checkSpec, checkVolumes, hostsFile, mergeEnv, networkGroup, resolvConf, SIGNALS, signalNumber } from './container-spec-checks';
import { containerStats } from './container-stats';
import { RestartScheduler, shouldRestart } from './restart-policy';
import { networkMembers } from '../network/extra-networks';
import { prepareVolumes } from '../volumes/copy-up';
import { LiveNetworks } from '../network/live-networks';

// Kept importable from here: exec and the tests use them.
export { limitsOf, mergeEnv, signalNumber } from './container-spec-checks';

export interface ContainerRuntimeOptions extends ContainerProcessesOptions {
  hostId: string;
  dataDir: string;
  emit: (change: ContainerStateChange) => void;
  /** The native helper the driver executes (readiness checks it); default helperPath(). */
  helperPath?: string;
}

/**
 * The containers of this host, as the agent's bus API sees them: create, start, stop, kill,
 * restart, remove, wait, logs, stats. Records live in `ContainerRecords`, processes in
 * `ContainerProcesses`, restarts in `RestartScheduler`; this class serializes the operations on
 * one container and applies the rules between them.
 */
export class ContainerRuntime {
  private readonly records: ContainerRecords;
  private readonly processes: ContainerProcesses;
  private readonly restarts = new RestartScheduler();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly containersDir: string;
  private closing = false;
  private markReady!: () => void;
  private markFailed!: (error: Error) => void;
  /** Resolves once init() re-adopted what is on disk; requests wait for it (and fail if it failed). */
  readonly ready = new Promise<void>((resolve, reject) => {
    this.markReady = resolve;
    this.markFailed = reject;
  });

  /** Health checks follow the container (see ContainerRecords.health). */
  useHealthMonitor(monitor: HealthMonitor): void {
    this.records.health = monitor;
  }

  /** Published ports are kernel rules kept by the bridge network: they outlive this process. */
  get ports() {
    return this.options.network.ports;
  }

  constructor(private readonly options: ContainerRuntimeOptions) {
    this.containersDir = join(options.dataDir, 'containers');
    this.records = new ContainerRecords({ hostId: options.hostId, containersDir: this.containersDir, emit: options.emit, logger: options.logger });
    this.processes = new ContainerProcesses(options, this.records, this.ports, (record) => this.exited(record));
  }

  /** The host cannot run containers (no root, runtime disabled): every request says so. */
  unavailable(reason: string): void {
    this.ready.catch(() => undefined); // requests get the failure from `ready`; this only marks it handled
    this.markFailed(new UnavailableError(`containers are unavailable on host ${this.options.hostId}: ${reason}`));
  }

  dir(id: string) {
    return join(this.containersDir, id);
  }

  /** Serializes operations on one container. */
  private locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined); // the caller gets the error from `next`; the chain only waits
    this.locks.set(id, tail);
    void tail.then(() => this.locks.get(id) === tail && this.locks.delete(id));
    return next;
  }

  get(id: string): ContainerRecordOnDisk {
    return this.records.get(id);
  }

  all(): ContainerRecordOnDisk[] {
    return this.records.all();
  }

  info(id: string): ContainerRuntimeInfo {
    return this.records.info(id);
  }

  logOf(id: string): ContainerLog {
    this.get(id);
    return this.processes.logOf(id);
  }

  isRunning(id: string): boolean {
    return this.records.find(id)?.state === 'running';
  }

  /** For /readyz: the helper is there and executable, and the cgroup hierarchy can be read. */
  async checkHealth(): Promise<void> {
    const helper = this.options.helperPath ?? helperPath();
    await access(helper, fsConstants.X_OK).catch(() => {
      throw new UnavailableError(`isolation helper ${helper} is missing or not executable (make -C libs/isolation/native)`);
    });
    await this.options.cgroups.list().catch((error: Error) => {
      throw new UnavailableError(`cgroup v${this.options.cgroups.version} hierarchy unusable: ${error.message}`);
    });
  }

  /** Loads every container from disk; running ones whose helper is alive are re-adopted, the others get their exit recorded. */
  async init(): Promise<void> {
    await this.records.load();
    const knownCgroups = new Set(this.all().map((r) => r.id));
    for (const record of this.all()) {
      if (record.state === 'running' || record.state === 'restarting' || record.state === 'removing') {
        await this.processes.adopt(record);
      } else {
        this.records.changed(record, record.state); // tell metadata what we hold
      }
    }
    const leftovers = await this.options.cgroups.list().catch((error) => {
      this.options.logger.warn({ err: error }, 'cgroups of former containers not listed; none removed');
      return [] as string[];
    });
    for (const cg of leftovers) {
      if (!knownCgroups.has(cg)) await this.options.cgroups.destroy(cg).catch((error) => this.options.logger.warn({ err: error, cgroup: cg }, 'orphan cgroup not removed'));
    }
    const attached = this.all().filter((r) => r.state === 'running' && r.ipAddress && r.spec.network === 'bridge');
    await this.options.network.sync(attached.filter((r) => !r.spec.networks?.length).map((r) => ({ containerId: r.id, ipAddress: r.ipAddress as string, group: networkGroup(r) })));
    await this.options.userNetworks?.sync(attached.flatMap((r) => networkMembers(r.id, r.ipAddress as string, r.spec.networks ?? [])));
    this.markReady();
  }

  async create(request: { id: string; name: string; teamId?: string | null; spec: ContainerSpec; registryAuth?: RegistryAuth }): Promise<ContainerRuntimeInfo> {
    const { id, name, spec } = request;
    const teamId = request.teamId ?? null;
    if (this.records.has(id)) throw new ConflictError(`container ${id} already exists on this host`);
    if (this.all().some((r) => r.name === name)) throw new ConflictError(`the container name "${name}" is already in use`);
    checkSpec(spec);
    const { images, hostFs } = this.options;
    const image = await images.ensure(spec.image, request.registryAuth);
    const layerDirs = [...image.layers].reverse().map((l) => images.layerPath(l));
    const config = image.config.config ?? {};
    const env = mergeEnv(config.Env ?? [], spec.env);
    const entrypoint = spec.entrypoint ?? config.Entrypoint ?? [];
    const command = spec.command ?? (spec.entrypoint ? [] : (config.Cmd ?? []));
    const args = [...entrypoint, ...command];
    if (!args.length) throw new InvalidArgumentError('no command: the image has no entrypoint or cmd and none was given');
    const root = layeredRoot(layerDirs);
    await checkCommandExists(root, args[0] as string, env);
    const user = await resolveUser(root, spec.user ?? config.User);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const workingDir = spec.workingDir ?? (config.WorkingDir || '/');
    await checkVolumes(spec, teamId);
    const ports = spec.network === 'bridge' ? await checkPorts(spec, this.all().filter((r) => r.id !== id)) : [];
    const now = new Date().toISOString();
    const record: ContainerRecordOnDisk = {
      id, name, teamId, spec, image: spec.image, imageDigest: image.digest, layers: image.layers, args, env, workingDir,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname: spec.hostname ?? id.slice(0, 12),
      state: 'created', helperPid: null, helperStartTime: null, initPid: null, exitCode: null, oomKilled: false, error: '',
      healthcheck: resolveHealthcheck(config.Healthcheck, spec.healthcheck),
      restartCount: 0, stoppedByUser: false, ipAddress: null, gateway: null, macAddress: null, ports, createdAt: now, startedAt: null, finishedAt: null,
    };
    const paths = this.records.paths(id);
    try {
      await mkdir(paths.dir, { recursive: true, mode: 0o700 });
      await Promise.all([paths.upper, paths.work, paths.rootfs, paths.logs].map((d) => mkdir(d, { recursive: true })));
      await prepareVolumes({ spec, image: root, volumes: this.options.volumes, nodes: hostFs, others: this.all().map((r) => r.spec), onMountedRoot: (work) => this.onMountedRoot(id, image.layers, work) });
      // Output goes through pipes the helper makes; stdin through a FIFO the agent and the helper write.
      if (spec.openStdin) await hostFs.mkfifo(paths.stdin);
      // What start would otherwise do on its hot path: files that do not depend on the address, the cgroup.
      await writeFile(paths.hostname, `${record.hostname}\n`);
      await writeFile(paths.hosts, hostsFile(record.hostname, null));
      await writeFile(paths.resolv, await resolvConf(spec));
      await this.processes.prepareCgroup(record);
      await this.records.save(record);
    } catch (error) {
      await this.processes.releaseCgroup(id).catch((cleanupError) => this.options.logger.warn({ err: cleanupError, id }, 'cgroup of a failed create not removed'));
      await rm(paths.dir, { recursive: true, force: true });
      throw error;
    }
    this.records.add(record);
    this.records.changed(record, 'created');
    return this.info(id);
  }

  start(id: string): Promise<ContainerRuntimeInfo> {
    const requestedAt = process.hrtime.bigint();
    return this.locked(id, async () => {
      const record = this.get(id);
      if (record.state === 'running') return this.info(id);
      this.restarts.cancel(id);
      record.stoppedByUser = false;
      await this.processes.start(record, requestedAt);
      return this.info(id);
    });
  }

  /** After an exit was recorded: wake waiters, then restart, auto-remove or leave it. */
  private exited(record: ContainerRecordOnDisk): void {
    for (const wake of this.waiters.get(record.id) ?? []) wake();
    this.waiters.delete(record.id);
    if (this.closing) return;
    if (!shouldRestart(record)) {
      if (record.spec.autoRemove) void this.remove(record.id, true).catch((error) => this.options.logger.warn({ err: error, id: record.id }, 'auto-remove failed'));
      return;
    }
    this.records.changed(record, 'restarting');
    void this.records.save(record).catch((error) => this.options.logger.warn({ err: error, id: record.id }, 'state not saved'));
    this.restarts.schedule(record, () => {
      void this.locked(record.id, async () => {
        if (record.state !== 'restarting' || this.closing) return;
        record.restartCount++;
        await this.processes.start(record);
      }).catch((error) => this.options.logger.warn({ err: error, id: record.id }, 'restart failed'));
    });
  }

  stop(id: string, timeoutSeconds?: number, signal?: string): Promise<ContainerRuntimeInfo> {
    return this.locked(id, async () => {
      const record = this.get(id);
      record.stoppedByUser = true;
      this.restarts.cancel(id);
      if (record.state === 'restarting') {
        this.records.changed(record, 'exited');
        await this.records.save(record);
      }
      if (record.state !== 'running') return this.info(id);
      await this.records.save(record);
      const grace = (timeoutSeconds ?? record.spec.stopTimeoutSeconds ?? 10) * 1000;
      this.processes.signal(record, signalNumber(signal ?? record.spec.stopSignal ?? 'SIGTERM'));
      if (!(await this.processes.waitExit(id, grace))) {
        this.processes.signal(record, SIGNALS.SIGKILL as number);
        await this.processes.waitExit(id, 30_000);
      }
      return this.info(id);
    });
  }

  kill(id: string, signal: string): Promise<ContainerRuntimeInfo> {
    return this.locked(id, async () => {
      const record = this.get(id);
      if (record.state !== 'running') throw new ConflictError(`container ${id} is not running`);
      const n = signalNumber(signal);
      if (n === SIGNALS.SIGKILL) {
        record.stoppedByUser = true;
        await this.records.save(record);
      }
      this.processes.signal(record, n);
      if (n === SIGNALS.SIGKILL) await this.processes.waitExit(id, 30_000);
      return this.info(id);
    });
  }

  async restart(id: string, timeoutSeconds?: number): Promise<ContainerRuntimeInfo> {
    await this.stop(id, timeoutSeconds);
    return this.locked(id, async () => {
      const record = this.get(id);
      record.stoppedByUser = false;
      if (record.state !== 'running') {
        record.restartCount++;
        await this.processes.start(record);
      }
      return this.info(id);
    });
  }

  remove(id: string, force: boolean): Promise<{ removed: boolean }> {
    return this.locked(id, async () => {
      const record = this.get(id);
      if (record.state === 'running' && !force) throw new ConflictError(`container ${id} is running: stop it first or use force`);
      record.stoppedByUser = true;
      this.restarts.cancel(id);
      if (record.state === 'running') {
        this.processes.signal(record, SIGNALS.SIGKILL as number);
        await this.processes.waitExit(id, 30_000);
      }
      this.records.changed(record, 'removing');
      await this.processes.releaseCgroup(id).catch((error) => this.options.logger.warn({ err: error, id }, 'cgroup not removed'));
      if (record.spec.network === 'bridge') {
        const bridge = await this.processes.bridgeOf(record.spec);
        await bridge.leave(id);
        await bridge.detach(id);
        await Promise.all([bridge.ipam.release(id), record.spec.networks.length > 1 && this.processes.extraNetworks().leave(id, record.spec.networks)]);
      }
      await this.processes.unmountLegacyRoot(id);
      await rm(this.dir(id), { recursive: true, force: true });
      this.records.delete(id);
      this.restarts.forget(id);
      this.records.changed(record, 'dead');
      return { removed: true };
    });
  }

  /** `network connect`: under the container's lock, so a start or stop waits for the wiring. */
  connectNetwork(id: string, endpoint: NetworkEndpoint): Promise<ContainerRuntimeInfo> {
    return this.changeNetworks(id, (record, live) => live.connect(record, endpoint));
  }

  disconnectNetwork(id: string, networkId: string): Promise<ContainerRuntimeInfo> {
    return this.changeNetworks(id, (record, live) => live.disconnect(record, networkId));
  }

  private changeNetworks(id: string, change: (record: ContainerRecordOnDisk, live: LiveNetworks) => Promise<NetworkEndpoint[]>): Promise<ContainerRuntimeInfo> {
    return this.locked(id, async () => {
      const record = this.get(id);
      record.spec = { ...record.spec, networks: await change(record, new LiveNetworks(() => this.processes.extraNetworks())) };
      await this.records.save(record);
      return this.info(id);
    });
  }

  wait(id: string, condition: 'not-running' | 'next-exit'): Promise<{ exitCode: number; oomKilled: boolean }> {
    const record = this.get(id);
    if (condition === 'not-running' && record.state !== 'running' && record.state !== 'restarting') {
      return Promise.resolve({ exitCode: record.exitCode ?? 0, oomKilled: record.oomKilled });
    }
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(() => resolve({ exitCode: record.exitCode ?? 0, oomKilled: record.oomKilled }));
      this.waiters.set(id, list);
    });
  }

  /** Writes to the container's stdin (openStdin containers); `written` runs once the FIFO took the bytes. */
  writeStdin(id: string, data: Buffer, written?: () => void): void {
    this.processes.writeStdin(id, data, written);
  }

  /** Where the current run's output begins in the log (known for runs this agent started). */
  runLogStart(id: string): LogMark | undefined {
    return this.processes.runLogStart(id);
  }

  /** End-of-file on the container's stdin (a helper this agent started; see ContainerProcesses.closeStdin). */
  closeStdin(id: string): void {
    this.processes.closeStdin(id);
  }

  /** A Resize frame's JSON `{rows, cols}` for the container's tty; malformed sizes are ignored. */
  resize(id: string, payload: Buffer): void {
    try {
      const { rows, cols } = JSON.parse(payload.toString('utf8')) as { rows: unknown; cols: unknown };
      if (Number.isInteger(rows) && Number.isInteger(cols)) this.processes.resize(id, rows as number, cols as number);
    } catch {
      // not JSON: a client bug, and a size is not worth ending the session for
    }
  }

  stats(id: string): Promise<ContainerStats> {
    return containerStats(this.options.cgroups, this.get(id));
  }

  /** Stops watching (the containers keep running: they do not depend on this process). */
  async close(): Promise<void> {
    this.closing = true;
    this.records.health?.close();
    this.restarts.cancelAll();
    this.processes.stopWatching();
  }

  /**
   * Runs `work` on the container's files (`docker cp`): a running container's root through its init,
   * with its volumes; a stopped one's overlay mounted for the call only, under its lock (a start waits). */
  filesystem<T>(id: string, work: (rootPath: string) => Promise<T>): Promise<T> {
    const running = this.get(id);
    if (running.state === 'running' && running.initPid) return work(`/proc/${running.initPid}/root`);
    return this.locked(id, async () => {
      const record = this.get(id);
      if (record.state === 'running' && record.initPid) return work(`/proc/${record.initPid}/root`);
      await this.processes.unmountLegacyRoot(id);
      return this.onMountedRoot(id, record.layers, work);
    });
  }

  /** The container's overlay mounted on the host for `work` only (`docker cp`, copy-up). */
  private async onMountedRoot<T>(id: string, layers: readonly string[], work: (rootPath: string) => Promise<T>): Promise<T> {
    const paths = this.records.paths(id);
    await this.options.hostFs.mountOverlay(paths.rootfs, [...layers].reverse().map((l) => this.options.images.layerPath(l)), paths.upper, paths.work);
    return work(paths.rootfs).finally(() => this.options.hostFs.unmount(paths.rootfs));
  }

  /** Used by exec: the running container's root (its mount namespace, seen through its init), or undefined when it is not running. */
  rootView(id: string): RootView | undefined {
    const pid = this.get(id).initPid;
    return pid ? directoryRoot(`/proc/${pid}/root`) : undefined;
  }

  cgroupPaths(id: string): string[] {
    return this.options.cgroups.paths(id);
  }

  /** Host pids of a running container's processes (its cgroup's), for `top`. */
  async processIds(id: string): Promise<number[]> {
    if (!this.isRunning(id)) throw new ConflictError(`container ${id} is not running`);
    return this.options.cgroups.pids(id);
  }

  usedImages(): Set<string> {
    return new Set(this.all().map((r) => r.imageDigest));
  }

  async dirExists(id: string): Promise<boolean> {
    return stat(this.dir(id)).then(() => true, () => false);
  }
}
