import { closeSync, constants as fsConstants, openSync, write } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { InvalidArgumentError, NotFoundError } from '@muelle/contracts';
import {
  BindMount,
  CgroupDriver,
  CommandNotFoundError,
  HostFs,
  IsolationDriver,
  IsolationError,
  NetworkMode,
  PermissionDeniedError as IsolationPermissionDenied,
  RunningContainer,
} from '@muelle/isolation';
import type { Logger } from 'pino';
import { ImageStore, StoredImage } from '../images/image-store';
import { BridgeNetwork } from '../network/bridge-network';
import { PortProxy } from '../network/port-proxy';
import { VolumeStore } from '../volumes/volume-store';
import { checkBindSource } from './bind-source';
import { ContainerLog, LogRotation } from './container-log';
import { ContainerRecordOnDisk } from './container-record';
import { ContainerRecords } from './container-records';
import { hostsFile, limitsOf, networkGroup, SIGNAL_NAMES } from './container-spec-checks';
import { isolationOptionsOf } from './isolation-options';
import { isSameProcess, processStartTime } from './proc';

export interface ContainerProcessesOptions {
  driver: IsolationDriver;
  cgroups: CgroupDriver;
  hostFs: HostFs;
  images: ImageStore;
  volumes: VolumeStore;
  network: BridgeNetwork;
  logRotation: LogRotation;
  logger: Logger;
  /** How often re-adopted containers (not our children) are checked for exit. */
  adoptedPollMs?: number;
}

interface Live {
  /** Present when this agent process started the helper. */
  process?: RunningContainer;
  log: ContainerLog;
  pumps: Promise<void>;
  exited: Promise<void>;
  stdinFd?: number;
  poll?: NodeJS.Timeout;
}

/**
 * The start/stop lifecycle of containers' processes: start (cgroup, network, helper), output
 * capture, re-adoption of containers a previous agent started, signals, and the bookkeeping of
 * an exit. `onExited` runs after each exit was recorded (waiters, restart policy).
 */
export class ContainerProcesses {
  private readonly live = new Map<string, Live>();
  /** Containers whose cgroup exists with their limits, ready for the next start. */
  private readonly cgroupsReady = new Set<string>();

  constructor(
    private readonly options: ContainerProcessesOptions,
    private readonly records: ContainerRecords,
    private readonly ports: PortProxy,
    private readonly onExited: (record: ContainerRecordOnDisk) => void,
  ) {}

  logOf(id: string): ContainerLog {
    return this.live.get(id)?.log ?? this.newLog(id);
  }

  /** A container found running on disk: its helper alive is re-adopted, otherwise its exit is recorded. */
  async adopt(record: ContainerRecordOnDisk): Promise<void> {
    if (record.state === 'running' && (await isSameProcess(record.helperPid, record.helperStartTime))) {
      this.options.logger.info({ id: record.id, pid: record.initPid }, 're-adopted running container');
      const log = this.newLog(record.id);
      const pumps = this.attachOutput(record.id, log);
      let resolveExit!: () => void;
      const exited = new Promise<void>((r) => (resolveExit = r));
      const live: Live = { log, pumps, exited };
      this.live.set(record.id, live);
      live.poll = setInterval(() => {
        void isSameProcess(record.helperPid, record.helperStartTime).then((alive) => {
          if (alive || !live.poll) return;
          clearInterval(live.poll);
          live.poll = undefined;
          void this.onExit(record.id, undefined).then(resolveExit);
        });
      }, this.options.adoptedPollMs ?? 200);
      if (record.ipAddress && record.ports.length) await this.ports.open(record.id, record.ipAddress, record.ports).catch((error) =>
        this.options.logger.warn({ err: error, id: record.id }, 'could not re-open published ports'),
      );
      this.records.changed(record, 'running');
      return;
    }
    // It exited (or the helper died) while no agent was watching.
    this.live.set(record.id, { log: this.newLog(record.id), pumps: Promise.resolve(), exited: Promise.resolve() });
    await this.onExit(record.id, undefined);
  }

  /** A fresh cgroup with the container's limits, made ahead of start (at create, or after an exit). */
  async prepareCgroup(record: ContainerRecordOnDisk): Promise<void> {
    if (this.cgroupsReady.has(record.id)) return;
    await this.options.cgroups.destroy(record.id).catch(() => undefined);
    await this.options.cgroups.create(record.id, limitsOf(record.spec));
    this.cgroupsReady.add(record.id);
  }

  async releaseCgroup(id: string): Promise<void> {
    this.cgroupsReady.delete(id);
    await this.options.cgroups.destroy(id);
  }

  /** Whether `path` is a mount point in the agent's namespace (roots of containers started before overlays moved into the helper). */
  private async mounted(path: string): Promise<boolean> {
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    return info.split('\n').some((l) => l.split(' ')[4] === path);
  }

  async unmountLegacyRoot(id: string): Promise<void> {
    const rootfs = this.records.paths(id).rootfs;
    if (await this.mounted(rootfs).catch(() => false)) await this.options.hostFs.unmount(rootfs).catch(() => undefined);
  }

  /** `requestedAt` (hrtime) is when the start request reached the agent: the start latency is logged from there. */
  async start(record: ContainerRecordOnDisk, requestedAt = process.hrtime.bigint()): Promise<void> {
    const { id, spec } = record;
    const paths = this.records.paths(id);
    const image = (await this.options.images.find(record.imageDigest)) as StoredImage | undefined;
    if (!image) throw new NotFoundError(`image ${record.imageDigest} of container ${id} is no longer on this host`);
    const cleanups: Array<() => Promise<unknown>> = [];
    let stdoutFd: number | undefined;
    let stderrFd: number | undefined;
    let stdinFd: number | undefined;
    try {
      await this.prepareCgroup(record);
      cleanups.push(() => this.releaseCgroup(id));

      const mounts: BindMount[] = [];
      for (const volume of spec.volumes) {
        // Checked again here: a symlink can appear under an allowed prefix between create and start.
        if (volume.kind === 'bind') await checkBindSource(volume.source, record.teamId ?? null);
        const source = volume.kind === 'bind' ? volume.source : this.options.volumes.dataPath(volume.source);
        mounts.push({ source, target: volume.target, readonly: volume.readOnly });
      }
      let ipAddress: string | null = null;
      let network: NetworkMode = spec.network === 'host' ? { mode: 'host' } : { mode: 'none' };
      if (spec.network === 'bridge') {
        ipAddress = await this.options.network.ipam.allocate(id);
        cleanups.push(() => this.options.network.ipam.release(id));
        cleanups.push(() => this.options.network.detach(id));
        network = this.options.network.attachment(id, ipAddress);
        // The rules know the address before the workload can send from it.
        cleanups.push(() => this.options.network.leave(id));
        await this.options.network.join(id, ipAddress, networkGroup(record));
        await writeFile(paths.hosts, hostsFile(record.hostname, ipAddress));
      }
      mounts.push({ source: paths.hosts, target: '/etc/hosts' }, { source: paths.resolv, target: '/etc/resolv.conf' }, { source: paths.hostname, target: '/etc/hostname' });

      await rm(paths.exit, { force: true });
      stdoutFd = openSync(paths.stdout, fsConstants.O_RDWR);
      stderrFd = spec.tty ? undefined : openSync(paths.stderr, fsConstants.O_RDWR);
      stdinFd = spec.openStdin ? openSync(paths.stdin, fsConstants.O_RDWR) : undefined;
      const container = await this.options.driver.run({
        rootfs: paths.rootfs,
        // Mounted by the helper inside the container's mount namespace: nothing to mount or unmount here.
        overlay: { lowerDirs: [...record.layers].reverse().map((l) => this.options.images.layerPath(l)), upperDir: paths.upper, workDir: paths.work },
        args: record.args,
        env: record.env,
        cwd: record.workingDir,
        user: record.user,
        hostname: record.hostname,
        network,
        mounts,
        cgroupPaths: this.options.cgroups.paths(id),
        tty: spec.tty,
        // Records written before the flag existed have no `init`: they ran without one.
        init: spec.init === true,
        ...isolationOptionsOf(spec),
        stdio: { stdin: stdinFd ?? 'ignore', stdout: stdoutFd, stderr: stderrFd ?? 'ignore' },
        detached: { exitFile: paths.exit },
      });
      this.options.logger.info({ id, startMs: elapsedMs(requestedAt), network: spec.network }, 'container started');
      const helperPid = container.helperPid ?? null;
      record.helperPid = helperPid;
      record.helperStartTime = helperPid ? await processStartTime(helperPid) : null;
      record.initPid = container.pid;
      record.ipAddress = ipAddress;
      record.gateway = network.mode === 'bridge' ? network.gateway : null;
      record.macAddress = network.mode === 'bridge' ? network.macAddress : null;
      record.exitCode = null;
      record.oomKilled = false;
      record.error = '';
      record.startedAt = new Date().toISOString();
      record.finishedAt = null;
      const log = this.live.get(id)?.log ?? this.newLog(id);
      const pumps = this.attachOutput(id, log);
      for (const fd of [stdoutFd, stderrFd]) if (fd !== undefined) closeSync(fd);
      stdoutFd = stderrFd = undefined;
      const live: Live = { process: container, log, pumps, exited: Promise.resolve(), stdinFd };
      live.exited = container.wait().then((status) => this.onExit(id, status.exitCode));
      this.live.set(id, live);
      record.state = 'running';
      await this.records.save(record);
      this.records.changed(record, 'running');
      if (ipAddress && record.ports.length) {
        await this.ports.open(id, ipAddress, record.ports).catch((error) => {
          record.error = `published ports: ${(error as Error).message}`;
          this.options.logger.warn({ err: error, id }, 'could not publish ports');
        });
      }
    } catch (error) {
      for (const fd of [stdoutFd, stderrFd, stdinFd]) if (fd !== undefined) closeSync(fd);
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      record.error = (error as Error).message;
      record.exitCode = error instanceof IsolationError ? error.exitCode : 125;
      record.finishedAt = new Date().toISOString();
      record.state = record.startedAt ? 'exited' : 'created';
      await this.records.save(record);
      this.records.changed(record, record.state);
      if (error instanceof CommandNotFoundError || error instanceof IsolationPermissionDenied) throw new InvalidArgumentError(error.message);
      if (error instanceof IsolationError) throw new InvalidArgumentError(`cannot start container: ${error.message}`);
      throw error;
    }
  }

  private newLog(id: string): ContainerLog {
    const log = new ContainerLog(this.records.paths(id).logs, this.options.logRotation);
    log.on('write-error', (error: Error) => this.options.logger.warn({ err: error, id }, 'container output not written to its log'));
    return log;
  }

  /** Reads the container's stdout/stderr FIFOs into its log (non-blocking: libuv polls them). */
  private attachOutput(id: string, log: ContainerLog): Promise<void> {
    const paths = this.records.paths(id);
    const record = this.records.get(id);
    const open = (path: string, stream: 'stdout' | 'stderr') => {
      const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      const socket = new Socket({ fd, readable: true, writable: false });
      return log.pump(socket, stream);
    };
    const pumps = [open(paths.stdout, 'stdout')];
    if (!record.spec.tty) pumps.push(open(paths.stderr, 'stderr'));
    return Promise.all(pumps).then(() => undefined);
  }

  private async exitCodeFromFile(id: string): Promise<number | null> {
    try {
      const [code] = (await readFile(this.records.paths(id).exit, 'utf8')).trim().split(' ');
      return Number(code);
    } catch {
      return null;
    }
  }

  private async onExit(id: string, reported: number | undefined): Promise<void> {
    const record = this.records.find(id);
    const live = this.live.get(id);
    if (!record) return;
    // Let the output drain (the FIFO reaches EOF once every writer in the container is gone).
    await Promise.race([live?.pumps, sleep(2000)]);
    await live?.log.flushed();
    if (live?.stdinFd !== undefined) closeSync(live.stdinFd);
    const fromFile = await this.exitCodeFromFile(id);
    const code = fromFile ?? reported ?? null;
    record.oomKilled = await this.options.cgroups.oomKilled(id).catch(() => false);
    record.exitCode = code ?? 255;
    if (code === null) record.error = 'the container monitor vanished; exit status unknown';
    record.finishedAt = new Date().toISOString();
    record.helperPid = null;
    record.helperStartTime = null;
    record.initPid = null;
    this.ports.close(id);
    await this.releaseCgroup(id).catch((error) => this.options.logger.warn({ err: error, id }, 'cgroup cleanup failed'));
    // The veth died with the network namespace; only a crashed start can leave a host end behind.
    if (record.ipAddress) {
      await this.options.network.leave(id).catch((error) => this.options.logger.warn({ err: error, id }, 'network rules not updated'));
      await this.options.network.ipam.release(id);
    }
    record.ipAddress = null;
    await this.unmountLegacyRoot(id);
    this.live.delete(id);
    record.state = 'exited';
    await this.records.save(record).catch(() => undefined);
    this.records.changed(record, 'exited');
    this.onExited(record);
  }

  /** Signals the container's init: through the monitor when this process started it (it knows whether the init is still its child). */
  signal(record: ContainerRecordOnDisk, signal: number): void {
    const live = this.live.get(record.id);
    const name = SIGNAL_NAMES.get(signal);
    if (live?.process && name) {
      try {
        live.process.signal(name);
        return;
      } catch {
        // a signal the monitor does not forward: straight to the init
      }
    }
    if (!record.initPid) return;
    try {
      process.kill(record.initPid, signal);
    } catch {
      // already gone
    }
  }

  /** True once the container exited, false when `ms` passed first. */
  async waitExit(id: string, ms: number): Promise<boolean> {
    const live = this.live.get(id);
    if (!live) return true;
    return Promise.race([live.exited.then(() => true), sleep(ms).then(() => false)]);
  }

  /** Writes to the container's stdin (openStdin containers). */
  writeStdin(id: string, data: Buffer): void {
    const fd = this.live.get(id)?.stdinFd;
    if (fd === undefined) return;
    write(fd, data, () => undefined);
  }

  /** Stops watching re-adopted containers (they keep running). */
  stopWatching(): void {
    for (const live of this.live.values()) if (live.poll) clearInterval(live.poll);
  }
}

function elapsedMs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
