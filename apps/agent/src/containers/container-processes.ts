// size: 432 lines since team networks joined the start path (the other networks' join is in network/extra-networks.ts); the first network's join is the next piece to move out (it is one method).
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { ContainerSpec, InvalidArgumentError, NotFoundError } from '@muelle/contracts';
import {
  BindMount,
  CgroupDriver,
  CommandNotFoundError,
  ExitRecord,
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
import { endpointAddress, ExtraNetworks } from '../network/extra-networks';
import { UserNetworks } from '../network/user-networks';
import { VolumeStore } from '../volumes/volume-store';
import { checkBindSource } from './bind-source';
import { ContainerLog, LogMark, LogRotation } from './container-log';
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
  /** Bridges of teams' user-defined networks (absent: containers with `networks` are refused). */
  userNetworks?: UserNetworks;
  logRotation: LogRotation;
  logger: Logger;
  /** How often re-adopted containers (not our children) are checked for exit. */
  adoptedPollMs?: number;
}

interface Live {
  /** Present when this agent process started the helper. */
  process?: RunningContainer;
  log: ContainerLog;
  exited: Promise<void>;
  /** Our write end of the container's stdin FIFO (openStdin containers). */
  stdin?: Socket;
  /** Where this run's output begins in the log (attach `fromStart`). */
  runStart?: LogMark;
  poll?: NodeJS.Timeout;
}

/**
 * The start/stop lifecycle of containers' processes: start (cgroup, network, helper), output
 * capture, re-adoption of containers a previous agent started, signals, and the bookkeeping of
 * an exit. `onExited` runs after each exit was recorded (waiters, restart policy).
 */
export class ContainerProcesses {
  private readonly live = new Map<string, Live>();

  /** The bridge a container's veth goes into: its user network's, else the host's default bridge. */
  async bridgeOf(spec: ContainerSpec): Promise<BridgeNetwork> {
    const endpoint = spec.network === 'bridge' ? spec.networks?.[0] : undefined;
    if (!endpoint) return this.options.network;
    if (!this.options.userNetworks) throw new InvalidArgumentError(`network ${endpoint.name}: this host's agent runs without user-defined networks`);
    return this.options.userNetworks.bridgeFor(endpoint);
  }
  /** A container's second and later networks (only containers on user networks have any). */
  extraNetworks(): ExtraNetworks {
    if (!this.options.userNetworks) throw new InvalidArgumentError("this host's agent runs without user-defined networks");
    return new ExtraNetworks(this.options.userNetworks);
  }
  /** Containers whose cgroup exists with their limits, ready for the next start. */
  private readonly cgroupsReady = new Set<string>();

  constructor(
    private readonly options: ContainerProcessesOptions,
    private readonly records: ContainerRecords,
    private readonly ports: BridgeNetwork['ports'],
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
      log.watch();
      let resolveExit!: () => void;
      const exited = new Promise<void>((r) => (resolveExit = r));
      const live: Live = { log, exited, stdin: record.spec.openStdin ? this.reopenStdin(record.id) : undefined };
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
    this.live.set(record.id, { log: this.newLog(record.id), exited: Promise.resolve() });
    await this.onExit(record.id, undefined);
  }

  /** A fresh cgroup with the container's limits, made ahead of start (at create, or after an exit). */
  async prepareCgroup(record: ContainerRecordOnDisk): Promise<void> {
    if (this.cgroupsReady.has(record.id)) return;
    await this.options.cgroups.destroy(record.id).catch((error) => this.options.logger.warn({ err: error, id: record.id }, 'stale cgroup not removed'));
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
    if (await this.mounted(rootfs)) await this.options.hostFs.unmount(rootfs).catch((error) => this.options.logger.warn({ err: error, id, rootfs }, 'legacy root not unmounted'));
  }

  /** `requestedAt` (hrtime) is when the start request reached the agent: the start latency is logged from there. */
  async start(record: ContainerRecordOnDisk, requestedAt = process.hrtime.bigint()): Promise<void> {
    const { id, spec } = record;
    const paths = this.records.paths(id);
    const image = (await this.options.images.find(record.imageDigest)) as StoredImage | undefined;
    if (!image) throw new NotFoundError(`image ${record.imageDigest} of container ${id} is no longer on this host`);
    const cleanups: Array<() => Promise<unknown>> = [];
    let stdin: StdinFifo | undefined;
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
      const endpoint = spec.networks?.[0];
      if (spec.network === 'bridge' && endpoint) {
        // A user network: metadata handed out the address; the network's containers are one group.
        const bridge = await this.bridgeOf(spec);
        ipAddress = endpointAddress(endpoint);
        cleanups.push(() => bridge.detach(id));
        network = bridge.attachment(id, ipAddress);
        cleanups.push(() => bridge.leave(id));
        await bridge.join(id, ipAddress, endpoint.id);
        await writeFile(paths.hosts, hostsFile(record.hostname, ipAddress));
      } else if (spec.network === 'bridge') {
        ipAddress = await this.options.network.ipam.allocate(id);
        cleanups.push(() => this.options.network.ipam.release(id));
        cleanups.push(() => this.options.network.detach(id));
        network = this.options.network.attachment(id, ipAddress);
        // The rules know the address before the workload can send from it.
        cleanups.push(() => this.options.network.leave(id));
        await this.options.network.join(id, ipAddress, networkGroup(record));
        await writeFile(paths.hosts, hostsFile(record.hostname, ipAddress));
      }
      // eth1, eth2…: wired before the workload runs (beforeStart); a failure fails the start.
      const extra = spec.network === 'bridge' && spec.networks.length > 1 ? this.extraNetworks() : undefined;
      if (extra) cleanups.push(() => extra.leave(id, spec.networks));
      mounts.push({ source: paths.hosts, target: '/etc/hosts' }, { source: paths.resolv, target: '/etc/resolv.conf' }, { source: paths.hostname, target: '/etc/hostname' });

      await rm(paths.exit, { force: true });
      stdin = spec.openStdin ? openStdinFifo(paths.stdin) : undefined;
      const log = this.live.get(id)?.log ?? this.newLog(id);
      log.watch();
      const runStart = await log.mark();
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
        ...(extra ? { beforeStart: (pid: number) => extra.join(id, pid, spec.networks) } : {}),
        mounts,
        cgroupPaths: this.options.cgroups.paths(id),
        tty: spec.tty,
        // Records written before the flag existed have no `init`: they ran without one.
        init: spec.init === true,
        ...isolationOptionsOf(spec),
        // The helper owns the output pipes and writes the log itself: nothing is lost while no agent runs.
        stdio: { stdin: stdin?.containerEnd ?? 'ignore', stdout: 'ignore', stderr: 'ignore' },
        detached: {
          exitFile: paths.exit,
          output: { dir: paths.logs, maxBytes: this.options.logRotation.maxBytes, maxFiles: this.options.logRotation.maxFiles },
          stdinHold: stdin ? paths.stdin : undefined,
        },
      });
      const stdinWriter = stdin?.started();
      stdin = undefined;
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
      const live: Live = { process: container, log, exited: Promise.resolve(), stdin: stdinWriter, runStart };
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
      stdin?.abandon();
      this.live.get(id)?.log.unwatch();
      for (const cleanup of cleanups.reverse()) await cleanup().catch((cleanupError) => this.options.logger.warn({ err: cleanupError, id }, 'cleanup after a failed start failed'));
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

  /** Re-adopted: a write end of the stdin FIFO again (gone when the container closed its stdin). */
  private reopenStdin(id: string): Socket | undefined {
    try {
      return stdinSocket(openSync(this.records.paths(id).stdin, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
    } catch {
      return undefined; // ENXIO: nobody reads it any more
    }
  }

  /** The helper's exit record; containers started by an older helper have `<code> <signal>`. */
  private async exitRecord(id: string): Promise<Partial<ExitRecord> | null> {
    let text: string;
    try {
      text = (await readFile(this.records.paths(id).exit, 'utf8')).trim();
    } catch {
      return null; // no record: the helper died before the workload ended
    }
    if (!text.startsWith('{')) return { exitCode: Number(text.split(' ')[0]) };
    try {
      return JSON.parse(text) as ExitRecord;
    } catch {
      return null; // torn: written by rename, so only a broken disk does this
    }
  }

  private async onExit(id: string, reported: number | undefined): Promise<void> {
    const record = this.records.find(id);
    const live = this.live.get(id);
    if (!record) return;
    // The helper drained the output into the log before it wrote the exit record.
    live?.stdin?.destroy();
    live?.log.unwatch();
    const exit = await this.exitRecord(id);
    const code = exit?.exitCode ?? reported ?? null;
    record.oomKilled = await this.options.cgroups.oomKilled(id).catch((error) => {
      this.options.logger.warn({ err: error, id }, 'OOM kill count unreadable; reported as no OOM kill');
      return false;
    });
    record.exitCode = code ?? 255;
    if (code === null) record.error = 'the container monitor vanished; exit status unknown';
    // The container's own times: an exit while no agent ran is not dated to the agent's return.
    if (exit?.startedAt) record.startedAt = exit.startedAt;
    record.finishedAt = exit?.finishedAt ?? new Date().toISOString();
    record.helperPid = null;
    record.helperStartTime = null;
    record.initPid = null;
    await this.ports.close(id).catch((error) => this.options.logger.warn({ err: error, id }, 'published ports not removed'));
    await this.releaseCgroup(id).catch((error) => this.options.logger.warn({ err: error, id }, 'cgroup cleanup failed'));
    // The veth died with the network namespace; only a crashed start can leave a host end behind.
    if (record.ipAddress) {
      const bridge = await this.bridgeOf(record.spec);
      await bridge.leave(id).catch((error) => this.options.logger.warn({ err: error, id }, 'network rules not updated'));
      await bridge.ipam.release(id);
      if (record.spec.networks.length > 1) await this.extraNetworks().leave(id, record.spec.networks).catch((error) => this.options.logger.warn({ err: error, id }, 'rules of its other networks not updated'));
    }
    record.ipAddress = null;
    await this.unmountLegacyRoot(id);
    this.live.delete(id);
    record.state = 'exited';
    await this.records.save(record).catch((error) => this.options.logger.warn({ err: error, id }, 'exit not saved to the container record'));
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

  /** Writes to the container's stdin (openStdin containers); `written` runs once the FIFO took it. */
  writeStdin(id: string, data: Buffer, written?: () => void): void {
    const stdin = this.live.get(id)?.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return written?.();
    stdin.write(Buffer.from(data), () => written?.());
  }

  runLogStart(id: string): LogMark | undefined {
    return this.live.get(id)?.runStart;
  }

  /** End of input: our write end and the helper's go, so the workload reads end-of-file. */
  closeStdin(id: string): void {
    const live = this.live.get(id);
    if (!live?.stdin) return;
    live.stdin.end(() => live.process?.closeStdin());
  }

  /** A Resize frame's `{rows, cols}` for the container's tty (only a helper this agent started can apply it). */
  resize(id: string, rows: number, cols: number): void {
    this.live.get(id)?.process?.resize(rows, cols);
  }

  /** Stops watching re-adopted containers (they keep running). */
  stopWatching(): void {
    for (const live of this.live.values()) if (live.poll) clearInterval(live.poll);
  }
}

/**
 * The container's stdin FIFO during a start: a read-write end held so that no open blocks, the
 * read end the workload gets, and our write end. After the start only ours stays (and the
 * helper's, which it holds until closeStdin), so closing them is the workload's end-of-file.
 */
interface StdinFifo {
  containerEnd: number;
  started(): Socket;
  abandon(): void;
}

function openStdinFifo(path: string): StdinFifo {
  const keepOpen = openSync(path, fsConstants.O_RDWR);
  const containerEnd = openSync(path, fsConstants.O_RDONLY);
  const ours = openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  return {
    containerEnd,
    started() {
      closeSync(keepOpen);
      closeSync(containerEnd);
      return stdinSocket(ours);
    },
    abandon() {
      for (const fd of [keepOpen, containerEnd, ours]) closeSync(fd);
    },
  };
}

function stdinSocket(fd: number): Socket {
  const socket = new Socket({ fd, readable: false, writable: true });
  // EPIPE once the workload closed its stdin or exited: its input is simply no longer read.
  socket.on('error', () => socket.destroy());
  return socket;
}

function elapsedMs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
