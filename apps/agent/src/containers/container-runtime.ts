import { closeSync, constants as fsConstants, openSync, write } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { constants as osConstants, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  ConflictError,
  ContainerRuntimeInfo,
  ContainerSpec,
  ContainerState,
  ContainerStateChange,
  ContainerStats,
  InvalidArgumentError,
  NotFoundError,
  RegistryAuth,
  ResolvedPort,
  UnavailableError,
} from '@muelle/contracts';
import {
  BindMount,
  CgroupDriver,
  CgroupLimits,
  CommandNotFoundError,
  helperPath,
  HostFs,
  IsolationDriver,
  IsolationError,
  NetworkMode,
  PermissionDeniedError as IsolationPermissionDenied,
  RunningContainer,
} from '@muelle/isolation';
import type { Logger } from 'pino';
import { checkCommandExists, readFileFromLayers, resolveUser } from '../images/image-files';
import { ImageStore, StoredImage } from '../images/image-store';
import { BridgeNetwork, NO_TEAM_GROUP } from '../network/bridge-network';
import { PortProxy, probePort } from '../network/port-proxy';
import { VolumeStore } from '../volumes/volume-store';
import { checkBindSource } from './bind-source';
import { ContainerLog, LogRotation } from './container-log';
import { ContainerRecordOnDisk } from './container-record';
import { isolationOptionsOf } from './isolation-options';
import { isSameProcess, networkCounters, processStartTime, systemCpu } from './proc';
import { nextRestartDelay } from './restart-backoff';

export interface ContainerRuntimeOptions {
  hostId: string;
  dataDir: string;
  driver: IsolationDriver;
  cgroups: CgroupDriver;
  hostFs: HostFs;
  images: ImageStore;
  volumes: VolumeStore;
  network: BridgeNetwork;
  logRotation: LogRotation;
  emit: (change: ContainerStateChange) => void;
  logger: Logger;
  /** How often re-adopted containers (not our children) are checked for exit. */
  adoptedPollMs?: number;
  /** The native helper the driver executes (readiness checks it); default helperPath(). */
  helperPath?: string;
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

const SIGNALS = osConstants.signals as Record<string, number>;
const SIGNAL_NAMES = new Map(Object.entries(SIGNALS).map(([name, n]) => [n, name as NodeJS.Signals]));

export function signalNumber(signal: string): number {
  const name = /^\d+$/.test(signal) ? undefined : signal.startsWith('SIG') ? signal : `SIG${signal}`;
  const n = name ? SIGNALS[name] : Number(signal);
  if (!n || n < 1 || n > 64) throw new InvalidArgumentError(`unknown signal ${signal}`);
  return n;
}

/**
 * The containers of this host: their records on disk, their processes, logs, network and
 * restart policies. Every state change goes out through `emit` (containerStateChanged).
 */
export class ContainerRuntime {
  private readonly records = new Map<string, ContainerRecordOnDisk>();
  private readonly live = new Map<string, Live>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly saves = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Back-off step per container; restartCount keeps counting (docker inspect shows it), the delay resets. */
  private readonly backoffSteps = new Map<string, number>();
  /** Containers whose cgroup exists with their limits, ready for the next start. */
  private readonly cgroupsReady = new Set<string>();
  readonly ports = new PortProxy();
  private readonly containersDir: string;
  private closing = false;
  private markReady!: () => void;
  private markFailed!: (error: Error) => void;
  /** Resolves once init() re-adopted what is on disk; requests wait for it (and fail if it failed). */
  readonly ready = new Promise<void>((resolve, reject) => {
    this.markReady = resolve;
    this.markFailed = reject;
  });

  /** The host cannot run containers (no root, runtime disabled): every request says so. */
  unavailable(reason: string): void {
    this.ready.catch(() => undefined);
    this.markFailed(new UnavailableError(`containers are unavailable on host ${this.o.hostId}: ${reason}`));
  }

  constructor(private readonly o: ContainerRuntimeOptions) {
    this.containersDir = join(o.dataDir, 'containers');
  }

  // ---------- paths ----------
  dir(id: string) {
    return join(this.containersDir, id);
  }
  private p(id: string) {
    const d = this.dir(id);
    return {
      state: join(d, 'state.json'),
      upper: join(d, 'upper'),
      work: join(d, 'work'),
      rootfs: join(d, 'rootfs'),
      logs: join(d, 'logs'),
      exit: join(d, 'exit'),
      stdout: join(d, 'stdout.fifo'),
      stderr: join(d, 'stderr.fifo'),
      stdin: join(d, 'stdin.fifo'),
      hosts: join(d, 'hosts'),
      resolv: join(d, 'resolv.conf'),
      hostname: join(d, 'hostname'),
    };
  }

  /** Serializes operations on one container. */
  private locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => this.locks.get(id) === tail && this.locks.delete(id));
    return next;
  }

  /**
   * Writes the record atomically. Saves of one container run one after another: two at once
   * (a stop during a restart back-off) shared the temp file and the second rename failed.
   */
  private save(record: ContainerRecordOnDisk): Promise<void> {
    const previous = this.saves.get(record.id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const file = this.p(record.id).state;
      await writeFile(`${file}.tmp`, JSON.stringify(record));
      await rename(`${file}.tmp`, file);
    });
    const tail = next.catch(() => undefined);
    this.saves.set(record.id, tail);
    void tail.then(() => this.saves.get(record.id) === tail && this.saves.delete(record.id));
    return next;
  }

  private changed(record: ContainerRecordOnDisk, state: ContainerState): void {
    record.state = state;
    try {
      this.o.emit({
        id: record.id,
        hostId: this.o.hostId,
        state,
        exitCode: record.exitCode,
        oomKilled: record.oomKilled,
        restartCount: record.restartCount,
        imageDigest: record.imageDigest,
        at: new Date().toISOString(),
      });
    } catch (error) {
      this.o.logger.warn({ err: error, id: record.id }, 'state event not sent');
    }
  }

  get(id: string): ContainerRecordOnDisk {
    const record = this.records.get(id);
    if (!record) throw new NotFoundError(`no such container on host ${this.o.hostId}: ${id}`);
    return record;
  }

  all(): ContainerRecordOnDisk[] {
    return [...this.records.values()];
  }

  info(id: string): ContainerRuntimeInfo {
    const r = this.get(id);
    return {
      id: r.id,
      name: r.name,
      hostId: this.o.hostId,
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
      logPath: join(this.p(id).logs, 'container.log'),
      rootfsPath: this.p(id).rootfs,
    };
  }

  logOf(id: string): ContainerLog {
    this.get(id);
    return this.live.get(id)?.log ?? this.newLog(id);
  }

  isRunning(id: string): boolean {
    return this.records.get(id)?.state === 'running';
  }

  /** For /readyz: the helper is there and executable, and the cgroup hierarchy can be read. */
  async checkHealth(): Promise<void> {
    const helper = this.o.helperPath ?? helperPath();
    await access(helper, fsConstants.X_OK).catch(() => {
      throw new UnavailableError(`isolation helper ${helper} is missing or not executable (make -C libs/isolation/native)`);
    });
    await this.o.cgroups.list().catch((error: Error) => {
      throw new UnavailableError(`cgroup v${this.o.cgroups.version} hierarchy unusable: ${error.message}`);
    });
  }

  // ---------- startup: re-adoption ----------

  /** Loads every container from disk; running ones whose helper is alive are re-adopted, the others get their exit recorded. */
  async init(): Promise<void> {
    await mkdir(this.containersDir, { recursive: true });
    for (const id of await readdir(this.containersDir)) {
      let record: ContainerRecordOnDisk;
      try {
        record = JSON.parse(await readFile(this.p(id).state, 'utf8')) as ContainerRecordOnDisk;
      } catch {
        // A create that crashed before its record was written.
        await rm(this.dir(id), { recursive: true, force: true });
        continue;
      }
      this.records.set(id, record);
    }
    const knownCgroups = new Set(this.records.keys());
    for (const record of this.records.values()) {
      if (record.state === 'running' || record.state === 'restarting' || record.state === 'removing') {
        await this.adopt(record);
      } else {
        this.changed(record, record.state); // tell metadata what we hold
      }
    }
    for (const cg of await this.o.cgroups.list().catch(() => [] as string[])) {
      if (!knownCgroups.has(cg)) await this.o.cgroups.destroy(cg).catch(() => undefined);
    }
    const attached = this.all().filter((r) => r.state === 'running' && r.ipAddress && r.spec.network === 'bridge');
    await this.o.network.sync(attached.map((r) => ({ containerId: r.id, ipAddress: r.ipAddress as string, group: networkGroup(r) })));
    this.markReady();
  }

  private async adopt(record: ContainerRecordOnDisk): Promise<void> {
    if (record.state === 'running' && (await isSameProcess(record.helperPid, record.helperStartTime))) {
      this.o.logger.info({ id: record.id, pid: record.initPid }, 're-adopted running container');
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
      }, this.o.adoptedPollMs ?? 200);
      if (record.ipAddress && record.ports.length) await this.ports.open(record.id, record.ipAddress, record.ports).catch((error) =>
        this.o.logger.warn({ err: error, id: record.id }, 'could not re-open published ports'),
      );
      this.changed(record, 'running');
      return;
    }
    // It exited (or the helper died) while no agent was watching.
    this.live.set(record.id, { log: this.newLog(record.id), pumps: Promise.resolve(), exited: Promise.resolve() });
    await this.onExit(record.id, undefined);
  }

  // ---------- create ----------

  async create(request: { id: string; name: string; teamId?: string | null; spec: ContainerSpec; registryAuth?: RegistryAuth }): Promise<ContainerRuntimeInfo> {
    const { id, name, spec } = request;
    const teamId = request.teamId ?? null;
    if (this.records.has(id)) throw new ConflictError(`container ${id} already exists on this host`);
    if (this.all().some((r) => r.name === name)) throw new ConflictError(`the container name "${name}" is already in use`);
    if (spec.network === 'none' && spec.ports.length) throw new InvalidArgumentError('published ports need network bridge (or host, where they are ignored)');
    isolationOptionsOf(spec); // refuses bad capability names or ulimits now, not at start
    const image = await this.o.images.ensure(spec.image, request.registryAuth);
    const layerDirs = [...image.layers].reverse().map((l) => this.o.images.layerPath(l));
    const config = image.config.config ?? {};
    const env = mergeEnv(config.Env ?? [], spec.env);
    const entrypoint = spec.entrypoint ?? config.Entrypoint ?? [];
    const command = spec.command ?? (spec.entrypoint ? [] : (config.Cmd ?? []));
    const args = [...entrypoint, ...command];
    if (!args.length) throw new InvalidArgumentError('no command: the image has no entrypoint or cmd and none was given');
    await checkCommandExists(layerDirs, args[0] as string, env);
    const user = await resolveUser(spec.user ?? config.User, (path) => readFileFromLayers(layerDirs, path));
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
    const workingDir = spec.workingDir ?? (config.WorkingDir || '/');
    for (const volume of spec.volumes) {
      if (volume.target === '/' || volume.target.split('/').includes('..')) throw new InvalidArgumentError(`volume target ${volume.target} must be a path below / without ..`);
      if (volume.kind === 'bind') await checkBindSource(volume.source, teamId);
      else if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(volume.source)) {
        throw new InvalidArgumentError(`invalid volume name ${volume.source}`);
      }
    }
    const ports = spec.network === 'bridge' ? await this.checkPorts(id, spec) : [];
    const now = new Date().toISOString();
    const record: ContainerRecordOnDisk = {
      id, name, teamId, spec, image: spec.image, imageDigest: image.digest, layers: image.layers, args, env, workingDir,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname: spec.hostname ?? id.slice(0, 12),
      state: 'created', helperPid: null, helperStartTime: null, initPid: null, exitCode: null, oomKilled: false, error: '',
      restartCount: 0, stoppedByUser: false, ipAddress: null, gateway: null, macAddress: null, ports, createdAt: now, startedAt: null, finishedAt: null,
    };
    const paths = this.p(id);
    try {
      for (const volume of spec.volumes) if (volume.kind === 'volume') await this.o.volumes.ensure(volume.source);
      await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
      await Promise.all([paths.upper, paths.work, paths.rootfs, paths.logs].map((d) => mkdir(d, { recursive: true })));
      await this.o.hostFs.mkfifo(paths.stdout);
      await this.o.hostFs.mkfifo(paths.stderr);
      if (spec.openStdin) await this.o.hostFs.mkfifo(paths.stdin);
      // What start would otherwise do on its hot path: files that do not depend on the address, the cgroup.
      await writeFile(paths.hostname, `${record.hostname}\n`);
      await writeFile(paths.hosts, hostsFile(record.hostname, null));
      await writeFile(paths.resolv, await resolvConf(spec.network));
      await this.prepareCgroup(record);
      await this.save(record);
    } catch (error) {
      await this.o.cgroups.destroy(id).catch(() => undefined);
      this.cgroupsReady.delete(id);
      await rm(this.dir(id), { recursive: true, force: true });
      throw error;
    }
    this.records.set(id, record);
    this.changed(record, 'created');
    return this.info(id);
  }

  /** Resolves hostPort 0 and refuses ports taken by other containers or other programs. */
  private async checkPorts(id: string, spec: ContainerSpec): Promise<ResolvedPort[]> {
    const taken = new Set(this.all().filter((r) => r.id !== id && r.state !== 'exited' && r.state !== 'dead').flatMap((r) => r.ports.map((p) => `${p.hostPort}/${p.protocol}`)));
    const resolved: ResolvedPort[] = [];
    for (const port of spec.ports) {
      if (port.hostPort && taken.has(`${port.hostPort}/${port.protocol}`)) throw new InvalidArgumentError(`port ${port.hostPort}/${port.protocol} is already published by another container`);
      const hostPort = await probePort(port.hostIp, port.hostPort, port.protocol).catch((error: Error) => {
        throw new InvalidArgumentError(error.message);
      });
      taken.add(`${hostPort}/${port.protocol}`);
      resolved.push({ hostIp: port.hostIp, hostPort, containerPort: port.containerPort, protocol: port.protocol });
    }
    return resolved;
  }

  // ---------- start ----------

  start(id: string): Promise<ContainerRuntimeInfo> {
    const requestedAt = process.hrtime.bigint();
    return this.locked(id, async () => {
      const record = this.get(id);
      if (record.state === 'running') return this.info(id);
      this.clearRestartTimer(id);
      record.stoppedByUser = false;
      await this.startLocked(record, requestedAt);
      return this.info(id);
    });
  }

  /** Whether `path` is a mount point in the agent's namespace (roots of containers started before overlays moved into the helper). */
  private async mounted(path: string): Promise<boolean> {
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    return info.split('\n').some((l) => l.split(' ')[4] === path);
  }

  private async unmountLegacyRoot(id: string): Promise<void> {
    const rootfs = this.p(id).rootfs;
    if (await this.mounted(rootfs).catch(() => false)) await this.o.hostFs.unmount(rootfs).catch(() => undefined);
  }

  /** A fresh cgroup with the container's limits, made ahead of start (at create, or after an exit). */
  private async prepareCgroup(record: ContainerRecordOnDisk): Promise<void> {
    if (this.cgroupsReady.has(record.id)) return;
    await this.o.cgroups.destroy(record.id).catch(() => undefined);
    await this.o.cgroups.create(record.id, limitsOf(record.spec));
    this.cgroupsReady.add(record.id);
  }

  private async releaseCgroup(id: string): Promise<void> {
    this.cgroupsReady.delete(id);
    await this.o.cgroups.destroy(id);
  }

  /** `requestedAt` (hrtime) is when the start request reached the agent: the start latency is logged from there. */
  private async startLocked(record: ContainerRecordOnDisk, requestedAt = process.hrtime.bigint()): Promise<void> {
    const { id, spec } = record;
    const paths = this.p(id);
    const image = (await this.o.images.find(record.imageDigest)) as StoredImage | undefined;
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
        const source = volume.kind === 'bind' ? volume.source : this.o.volumes.dataPath(volume.source);
        mounts.push({ source, target: volume.target, readonly: volume.readOnly });
      }
      let ipAddress: string | null = null;
      let network: NetworkMode = spec.network === 'host' ? { mode: 'host' } : { mode: 'none' };
      if (spec.network === 'bridge') {
        ipAddress = await this.o.network.ipam.allocate(id);
        cleanups.push(() => this.o.network.ipam.release(id));
        cleanups.push(() => this.o.network.detach(id));
        network = this.o.network.attachment(id, ipAddress);
        // The rules know the address before the workload can send from it.
        cleanups.push(() => this.o.network.leave(id));
        await this.o.network.join(id, ipAddress, networkGroup(record));
        await writeFile(paths.hosts, hostsFile(record.hostname, ipAddress));
      }
      mounts.push({ source: paths.hosts, target: '/etc/hosts' }, { source: paths.resolv, target: '/etc/resolv.conf' }, { source: paths.hostname, target: '/etc/hostname' });

      await rm(paths.exit, { force: true });
      stdoutFd = openSync(paths.stdout, fsConstants.O_RDWR);
      stderrFd = spec.tty ? undefined : openSync(paths.stderr, fsConstants.O_RDWR);
      stdinFd = spec.openStdin ? openSync(paths.stdin, fsConstants.O_RDWR) : undefined;
      const container = await this.o.driver.run({
        rootfs: paths.rootfs,
        // Mounted by the helper inside the container's mount namespace: nothing to mount or unmount here.
        overlay: { lowerDirs: [...record.layers].reverse().map((l) => this.o.images.layerPath(l)), upperDir: paths.upper, workDir: paths.work },
        args: record.args,
        env: record.env,
        cwd: record.workingDir,
        user: record.user,
        hostname: record.hostname,
        network,
        mounts,
        cgroupPaths: this.o.cgroups.paths(id),
        tty: spec.tty,
        // Records written before the flag existed have no `init`: they ran without one.
        init: spec.init === true,
        ...isolationOptionsOf(spec),
        stdio: { stdin: stdinFd ?? 'ignore', stdout: stdoutFd, stderr: stderrFd ?? 'ignore' },
        detached: { exitFile: paths.exit },
      });
      this.o.logger.info({ id, startMs: elapsedMs(requestedAt), network: spec.network }, 'container started');
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
      await this.save(record);
      this.changed(record, 'running');
      if (ipAddress && record.ports.length) {
        await this.ports.open(id, ipAddress, record.ports).catch((error) => {
          record.error = `published ports: ${(error as Error).message}`;
          this.o.logger.warn({ err: error, id }, 'could not publish ports');
        });
      }
    } catch (error) {
      for (const fd of [stdoutFd, stderrFd, stdinFd]) if (fd !== undefined) closeSync(fd);
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      record.error = (error as Error).message;
      record.exitCode = error instanceof IsolationError ? error.exitCode : 125;
      record.finishedAt = new Date().toISOString();
      record.state = record.startedAt ? 'exited' : 'created';
      await this.save(record);
      this.changed(record, record.state);
      if (error instanceof CommandNotFoundError || error instanceof IsolationPermissionDenied) throw new InvalidArgumentError(error.message);
      if (error instanceof IsolationError) throw new InvalidArgumentError(`cannot start container: ${error.message}`);
      throw error;
    }
  }

  private newLog(id: string): ContainerLog {
    const log = new ContainerLog(this.p(id).logs, this.o.logRotation);
    log.on('write-error', (error: Error) => this.o.logger.warn({ err: error, id }, 'container output not written to its log'));
    return log;
  }

  /** Reads the container's stdout/stderr FIFOs into its log (non-blocking: libuv polls them). */
  private attachOutput(id: string, log: ContainerLog): Promise<void> {
    const paths = this.p(id);
    const record = this.get(id);
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
      const [code] = (await readFile(this.p(id).exit, 'utf8')).trim().split(' ');
      return Number(code);
    } catch {
      return null;
    }
  }

  private async onExit(id: string, reported: number | undefined): Promise<void> {
    const record = this.records.get(id);
    const live = this.live.get(id);
    if (!record) return;
    // Let the output drain (the FIFO reaches EOF once every writer in the container is gone).
    await Promise.race([live?.pumps, sleep(2000)]);
    await live?.log.flushed();
    if (live?.stdinFd !== undefined) closeSync(live.stdinFd);
    const fromFile = await this.exitCodeFromFile(id);
    const code = fromFile ?? reported ?? null;
    record.oomKilled = await this.o.cgroups.oomKilled(id).catch(() => false);
    record.exitCode = code ?? 255;
    if (code === null) record.error = 'the container monitor vanished; exit status unknown';
    record.finishedAt = new Date().toISOString();
    record.helperPid = null;
    record.helperStartTime = null;
    record.initPid = null;
    this.ports.close(id);
    await this.releaseCgroup(id).catch((error) => this.o.logger.warn({ err: error, id }, 'cgroup cleanup failed'));
    // The veth died with the network namespace; only a crashed start can leave a host end behind.
    if (record.ipAddress) {
      await this.o.network.leave(id).catch((error) => this.o.logger.warn({ err: error, id }, 'network rules not updated'));
      await this.o.network.ipam.release(id);
    }
    record.ipAddress = null;
    await this.unmountLegacyRoot(id);
    this.live.delete(id);
    record.state = 'exited';
    await this.save(record).catch(() => undefined);
    this.changed(record, 'exited');
    for (const wake of this.waiters.get(id) ?? []) wake();
    this.waiters.delete(id);
    if (!this.closing) this.applyRestartPolicy(record);
  }

  private applyRestartPolicy(record: ContainerRecordOnDisk): void {
    const policy = record.spec.restartPolicy;
    const failed = record.exitCode !== 0;
    const restart =
      !record.stoppedByUser &&
      (policy.name === 'always' ||
        policy.name === 'unless-stopped' ||
        (policy.name === 'on-failure' && failed && (policy.maxRetries === 0 || record.restartCount < policy.maxRetries)));
    if (!restart) {
      if (record.spec.autoRemove) void this.remove(record.id, true).catch(() => undefined);
      return;
    }
    const { delayMs: delay, nextStep } = nextRestartDelay(this.backoffSteps.get(record.id) ?? record.restartCount, record.startedAt, record.finishedAt);
    this.backoffSteps.set(record.id, nextStep);
    this.changed(record, 'restarting');
    void this.save(record).catch((error) => this.o.logger.warn({ err: error, id: record.id }, 'state not saved'));
    const timer = setTimeout(() => {
      this.restartTimers.delete(record.id);
      void this.locked(record.id, async () => {
        if (record.state !== 'restarting' || this.closing) return;
        record.restartCount++;
        await this.startLocked(record);
      }).catch((error) => this.o.logger.warn({ err: error, id: record.id }, 'restart failed'));
    }, delay);
    this.restartTimers.set(record.id, timer);
  }

  private clearRestartTimer(id: string): void {
    const timer = this.restartTimers.get(id);
    if (timer) clearTimeout(timer);
    this.restartTimers.delete(id);
  }

  // ---------- stop / kill / restart / remove ----------

  private signalInit(record: ContainerRecordOnDisk, signal: number): void {
    // Through the monitor when this process started it: it knows whether the init is still its child.
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

  private async waitExit(id: string, ms: number): Promise<boolean> {
    const live = this.live.get(id);
    if (!live) return true;
    return Promise.race([live.exited.then(() => true), sleep(ms).then(() => false)]);
  }

  stop(id: string, timeoutSeconds?: number, signal?: string): Promise<ContainerRuntimeInfo> {
    return this.locked(id, async () => {
      const record = this.get(id);
      record.stoppedByUser = true;
      this.clearRestartTimer(id);
      if (record.state === 'restarting') {
        this.changed(record, 'exited');
        await this.save(record);
      }
      if (record.state !== 'running') return this.info(id);
      await this.save(record);
      const grace = (timeoutSeconds ?? record.spec.stopTimeoutSeconds ?? 10) * 1000;
      this.signalInit(record, signalNumber(signal ?? record.spec.stopSignal ?? 'SIGTERM'));
      if (!(await this.waitExit(id, grace))) {
        this.signalInit(record, SIGNALS.SIGKILL as number);
        await this.waitExit(id, 30_000);
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
        await this.save(record);
      }
      this.signalInit(record, n);
      if (n === SIGNALS.SIGKILL) await this.waitExit(id, 30_000);
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
        await this.startLocked(record);
      }
      return this.info(id);
    });
  }

  remove(id: string, force: boolean): Promise<{ removed: boolean }> {
    return this.locked(id, async () => {
      const record = this.get(id);
      if (record.state === 'running' && !force) throw new ConflictError(`container ${id} is running: stop it first or use force`);
      record.stoppedByUser = true;
      this.clearRestartTimer(id);
      if (record.state === 'running') {
        this.signalInit(record, SIGNALS.SIGKILL as number);
        await this.waitExit(id, 30_000);
      }
      this.changed(record, 'removing');
      await this.releaseCgroup(id).catch(() => undefined);
      if (record.spec.network === 'bridge') {
        await this.o.network.leave(id);
        await this.o.network.detach(id);
        await this.o.network.ipam.release(id);
      }
      await this.unmountLegacyRoot(id);
      await rm(this.dir(id), { recursive: true, force: true });
      this.records.delete(id);
      this.backoffSteps.delete(id);
      this.changed(record, 'dead');
      return { removed: true };
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

  /** Writes to the container's stdin (openStdin containers). */
  writeStdin(id: string, data: Buffer): void {
    const fd = this.live.get(id)?.stdinFd;
    if (fd === undefined) return;
    write(fd, data, () => undefined);
  }

  async stats(id: string): Promise<ContainerStats> {
    const record = this.get(id);
    if (record.state !== 'running') throw new ConflictError(`container ${id} is not running`);
    const [cg, sys] = await Promise.all([this.o.cgroups.stats(id), systemCpu()]);
    return {
      id,
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

  /** Stops watching (the containers keep running: they do not depend on this process). */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    for (const live of this.live.values()) if (live.poll) clearInterval(live.poll);
    this.ports.closeAll();
  }

  /** Used by exec: a file inside the running container's root (its mount namespace, seen through its init). */
  async readInRoot(id: string, path: string): Promise<string | undefined> {
    const pid = this.get(id).initPid;
    if (!pid) return undefined;
    return readFile(join(`/proc/${pid}/root`, path), 'utf8').catch(() => undefined);
  }

  cgroupPaths(id: string): string[] {
    return this.o.cgroups.paths(id);
  }

  /** Host pids of a running container's processes (its cgroup's), for `top`. */
  async processIds(id: string): Promise<number[]> {
    if (!this.isRunning(id)) throw new ConflictError(`container ${id} is not running`);
    return this.o.cgroups.pids(id);
  }

  usedImages(): Set<string> {
    return new Set(this.all().map((r) => r.imageDigest));
  }

  async dirExists(id: string): Promise<boolean> {
    return stat(this.dir(id)).then(() => true, () => false);
  }
}

function elapsedMs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export function mergeEnv(imageEnv: readonly string[], specEnv: readonly string[]): string[] {
  const map = new Map<string, string>();
  for (const entry of [...imageEnv, ...specEnv]) map.set(entry.slice(0, entry.indexOf('=')), entry);
  if (!map.has('PATH')) map.set('PATH', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...map.values()];
}

export function limitsOf(spec: ContainerSpec): CgroupLimits {
  const r = spec.resources;
  const limits: CgroupLimits = {};
  if (r.memoryBytes) limits.memoryBytes = r.memoryBytes;
  if (r.cpuShares) limits.cpuShares = r.cpuShares;
  if (r.cpus) limits.cpuQuota = { quotaUs: Math.round(r.cpus * 100_000), periodUs: 100_000 };
  if (r.pidsLimit) limits.pidsMax = r.pidsLimit;
  return limits;
}

function hostsFile(hostname: string, ip: string | null): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ip ? `${ip}\t${hostname}` : `127.0.1.1\t${hostname}`, ''].join('\n');
}

/** Containers of one team share a network group; those without a team share another. */
function networkGroup(record: ContainerRecordOnDisk): string {
  return record.teamId ? `team:${record.teamId}` : NO_TEAM_GROUP;
}

async function resolvConf(network: ContainerSpec['network']): Promise<string> {
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  // Loopback resolvers of the host are unreachable from a container's own network namespace.
  const lines = host.split('\n').filter((l) => l.trim() && !(network !== 'host' && /^nameserver\s+(127\.|::1)/.test(l.trim())));
  if (!lines.some((l) => l.startsWith('nameserver'))) lines.push('nameserver 8.8.8.8');
  return lines.join('\n') + '\n';
}
