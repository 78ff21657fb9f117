import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate, Labels } from '../common';
import { ContainerId, ContainerName, ContainerSpec, ContainerState, HealthStatus, HostId } from '../containers/container.schemas';
import { ConnectOnHost, DisconnectOnHost } from '../network/endpoints.contracts';

/*
 * The per-host agent API. Every subject is `muelle.agent.<hostId>.<verb>.v1`, so a caller (api,
 * scheduler) addresses exactly one host. Long-running output (followed logs, attach, exec) goes over
 * a byte stream of `@muelle/bus` (`StreamEnd`, `Frame`) named by a caller-chosen `streamId`:
 *
 *   1. the caller opens its client `StreamEnd` on a fresh id (`newStreamId()`),
 *   2. sends the request carrying `streamId`; the agent opens its server end BEFORE replying,
 *   3. once the reply arrived the caller sends `Frame.Ready` (`{window}`: the output credit it
 *      grants); the agent sends nothing before it, and answers with a `Credit` for stdin (attach, exec),
 *   4. the agent sends `Stdout`/`Stderr` frames (with a tty only `Stdout`), the caller may send
 *      `Stdin`, `StdinEnd` and `Resize` (`{rows, cols}`); payload frames only within the credit
 *      the other side granted, which grants more with `Credit` frames as its destination takes
 *      the bytes (libs/bus `stream-credit.ts`),
 *   5. the agent ends the session with exactly one `Exit` (`{exitCode}`) or `Error` (`{code, message}`).
 *      A caller that wants to stop early (e.g. stop following logs) sends `StdinEnd` on a logs
 *      stream; the agent then sends `Exit` with `exitCode: 0`. A caller that leaves sends `Error`:
 *      an exec's process runs on and its stdin ends, unless the Error is a detach (`detachError()`,
 *      the user's detach keys): then its stdin stays open, as dockerd leaves a tty exec's.
 *
 * Both ends also send `KeepAlive` frames while open (not counted as credit, never handed to the
 * frame handler); a peer silent past the limit counts as gone (libs/bus `stream-liveness.ts`).
 */

const StreamId = z.string().regex(/^[a-f0-9]{8,64}$/);
/** A path inside a container, as `docker cp` names it. */
export const ArchivePath = z.string().min(1).max(4096).startsWith('/', 'an absolute path inside the container').refine((p) => !p.includes('\0'), 'no NUL bytes');

/** Docker's `X-Docker-Container-Path-Stat` (mode: Go's os.FileMode bits). */
export const PathStat = z.object({ name: z.string(), size: z.number().int(), mode: z.number().int(), mtime: z.string(), linkTarget: z.string() });
export type PathStat = z.infer<typeof PathStat>;

/** The largest tar one `docker cp` moves, either way (the agent and the api both stop past it). */
export const CP_MAX_BYTES = 8 * 1024 * 1024 * 1024;

export const Signal = z.string().regex(/^(SIG)?[A-Z0-9+-]+$|^[0-9]{1,2}$/, 'a signal name like SIGTERM or a number');

/**
 * Credentials the agent uses for this one pull; never stored on disk. `registry` (host:port) names
 * the registry they were given for; without it they are the user's Muelle credentials and go only
 * to Muelle's own registry (see `credentialsFor` in @muelle/registry-client).
 */
const forRegistry = { registry: z.string().min(1).max(255).optional() };
export const RegistryAuth = z.union([
  z.object({ username: z.string().min(1).max(256), password: z.string().max(4096), ...forRegistry }),
  z.object({ token: z.string().min(1).max(16384), ...forRegistry }),
]);
export type RegistryAuth = z.infer<typeof RegistryAuth>;

export const ResolvedPort = z.object({
  hostIp: z.string(),
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp']),
});
export type ResolvedPort = z.infer<typeof ResolvedPort>;

/** One probe of a health check (docker inspect's `State.Health.Log`); output cut at 4 KiB like Docker's. */
export const HealthProbe = z.object({ start: IsoDate, end: IsoDate, exitCode: z.number().int(), output: z.string() });

/** The health check the agent runs (image HEALTHCHECK merged with the spec's override) and its state. */
export const ContainerHealth = z.object({
  test: z.array(z.string()),
  intervalMs: z.number().int(),
  timeoutMs: z.number().int(),
  startPeriodMs: z.number().int(),
  retries: z.number().int(),
  status: HealthStatus,
  failingStreak: z.number().int(),
  /** The last 5 probes, oldest first. */
  log: z.array(HealthProbe),
});
export type ContainerHealth = z.infer<typeof ContainerHealth>;

/** What the agent knows about one container on its host (docker `inspect`'s State + NetworkSettings). */
export const ContainerRuntimeInfo = z.object({
  id: ContainerId,
  name: ContainerName,
  hostId: HostId,
  image: z.string(),
  imageDigest: z.string(),
  spec: ContainerSpec,
  state: ContainerState,
  /** Host pid of the container's init while running, else null. */
  pid: z.number().int().nullable(),
  exitCode: z.number().int().nullable(),
  oomKilled: z.boolean(),
  /** Failure to start (bad entrypoint, port taken…) in words; empty when none. */
  error: z.string(),
  restartCount: z.number().int(),
  /** Set when the user stopped it: `unless-stopped` and `always` do not restart it then. */
  stoppedByUser: z.boolean(),
  ipAddress: z.string().nullable(),
  gateway: z.string().nullable(),
  macAddress: z.string().nullable(),
  ports: z.array(ResolvedPort),
  createdAt: IsoDate,
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
  /** The current log file (JSON lines) on the host. */
  logPath: z.string(),
  rootfsPath: z.string(),
  /** Absent when the container has no health check. */
  health: ContainerHealth.optional(),
});
export type ContainerRuntimeInfo = z.infer<typeof ContainerRuntimeInfo>;

const byId = z.object({ id: ContainerId });

export const LogLine = z.object({ stream: z.enum(['stdout', 'stderr']), time: IsoDate, line: z.string() });
export type LogLine = z.infer<typeof LogLine>;

export const ContainerStats = z.object({
  id: ContainerId,
  at: IsoDate,
  /** Container CPU time in ns (cumulative). */
  cpuUsageNs: z.number(),
  /** Host CPU time in ns (sum of /proc/stat's first 7 fields), for docker's cpu% formula. */
  systemCpuUsageNs: z.number(),
  onlineCpus: z.number().int(),
  memoryUsageBytes: z.number().int(),
  /** Cgroup limit, or host RAM when unlimited. */
  memoryLimitBytes: z.number().int(),
  /** docker's "used" = usage − inactive file. */
  memoryInactiveFileBytes: z.number().int(),
  pidsCurrent: z.number().int(),
  pidsLimit: z.number().int().nullable(),
  oomKills: z.number().int(),
  networks: z.record(
    z.string(),
    z.object({
      rxBytes: z.number().int(),
      txBytes: z.number().int(),
      rxPackets: z.number().int(),
      txPackets: z.number().int(),
      rxErrors: z.number().int(),
      rxDropped: z.number().int(),
      txErrors: z.number().int(),
      txDropped: z.number().int(),
    }),
  ),
});
export type ContainerStats = z.infer<typeof ContainerStats>;

export const ExecInfo = z.object({
  id: z.string().regex(/^[a-f0-9]{64}$/),
  containerId: ContainerId,
  cmd: z.array(z.string()),
  tty: z.boolean(),
  /** Stdin comes from the caller of a streamed start (docker exec -i). */
  attachStdin: z.boolean().default(false),
  /** Docker's `DetachKeys` given at create (`ctrl-p,ctrl-q` style); empty: the default. */
  detachKeys: z.string().default(''),
  running: z.boolean(),
  exitCode: z.number().int().nullable(),
  pid: z.number().int().nullable(),
});
export type ExecInfo = z.infer<typeof ExecInfo>;

export const HostImage = z.object({
  /** `registry/repo:tag` references pulled to this digest. */
  references: z.array(z.string()),
  /** Manifest digest. */
  digest: z.string(),
  configDigest: z.string(),
  /** Uncompressed size of all layers. */
  sizeBytes: z.number().int(),
  layers: z.array(z.string()),
  pulledAt: IsoDate,
  /** Containers on this host using it. */
  usedBy: z.array(ContainerId),
});
export type HostImage = z.infer<typeof HostImage>;

export const VolumeName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'letters, digits, _ . - (max 128)');
export const VolumeInfo = z.object({
  name: VolumeName,
  mountpoint: z.string(),
  labels: Labels,
  createdAt: IsoDate,
  usedBy: z.array(ContainerId),
});
export type VolumeInfo = z.infer<typeof VolumeInfo>;

const PULL_TIMEOUT_MS = 15 * 60_000;
const STOP_TIMEOUT_MS = 3_700_000;

/** All requests one agent answers; subjects carry the host id. */
export function agentContracts(hostId: string) {
  HostId.parse(hostId);
  const subject = (verb: string) => `muelle.agent.${hostId}.${verb}.v1`;
  return {
    /**
     * Makes the container (pulls the image if missing, unpacks it, prepares rootfs, log dir and
     * named volumes) without starting it. Bad specs fail with INVALID_ARGUMENT (unknown user,
     * missing entrypoint, missing bind source, port already taken), a missing image with NOT_FOUND,
     * a taken id or name with CONFLICT — and nothing is left behind.
     */
    create: defineRequest(
      subject('containers.create'),
      z.object({
        id: ContainerId,
        name: ContainerName,
        spec: ContainerSpec,
        registryAuth: RegistryAuth.optional(),
        // The owning team (null: none, admins). It scopes the named volumes (the same name in two
        // teams is two volumes) and the network rules (a container reaches only its own team's).
        teamId: z.string().uuid().nullable().default(null),
      }),
      ContainerRuntimeInfo,
      PULL_TIMEOUT_MS,
    ),
    /** Starts a created or exited container (network, cgroup, workload). Already running: no-op. */
    start: defineRequest(subject('containers.start'), byId, ContainerRuntimeInfo, 60_000),
    /** Stop signal (spec.stopSignal, default SIGTERM), then SIGKILL after `timeoutSeconds` (default spec.stopTimeoutSeconds ?? 10). */
    stop: defineRequest(
      subject('containers.stop'),
      z.object({ id: ContainerId, timeoutSeconds: z.number().int().min(0).max(3600).optional(), signal: Signal.optional() }),
      ContainerRuntimeInfo,
      STOP_TIMEOUT_MS,
    ),
    /** Sends a signal (default SIGKILL) to the container's init; CONFLICT when it is not running. */
    kill: defineRequest(subject('containers.kill'), z.object({ id: ContainerId, signal: Signal.default('SIGKILL') }), ContainerRuntimeInfo),
    restart: defineRequest(
      subject('containers.restart'),
      z.object({ id: ContainerId, timeoutSeconds: z.number().int().min(0).max(3600).optional() }),
      ContainerRuntimeInfo,
      STOP_TIMEOUT_MS,
    ),
    /** CONFLICT for a running container unless `force` (then it is killed). Named volumes always stay. */
    remove: defineRequest(subject('containers.remove'), z.object({ id: ContainerId, force: z.boolean().default(false) }), z.object({ removed: z.boolean() }), 60_000),
    inspect: defineRequest(subject('containers.inspect'), byId, ContainerRuntimeInfo),
    /** Every container the agent holds on this host (what metadata may have lost). */
    list: defineRequest(subject('containers.list'), z.object({}), z.object({ items: z.array(ContainerRuntimeInfo) })),
    /**
     * Waits until the container is not running (`not-running`, returns at once if it is not) or
     * until its next exit (`next-exit`). Use a long `timeoutMs` on the caller side.
     */
    wait: defineRequest(
      subject('containers.wait'),
      z.object({ id: ContainerId, condition: z.enum(['not-running', 'next-exit']).default('not-running') }),
      z.object({ exitCode: z.number().int(), oomKilled: z.boolean() }),
      24 * 3600_000,
    ),
    /**
     * Without `streamId`: up to `tail` lines in the reply (at most 5000 lines / 512 KiB; `truncated`
     * says so). With `streamId`: each line is a Stdout/Stderr frame (prefixed with
     * `<RFC3339Nano> ` when `timestamps`), then `Exit {exitCode: 0}` at the end of the file, or with
     * `follow` once the container stopped and everything was sent (or the caller sent StdinEnd).
     */
    logs: defineRequest(
      subject('containers.logs'),
      z.object({
        id: ContainerId,
        /** Last N lines; absent = all. */
        tail: z.number().int().min(0).optional(),
        since: IsoDate.optional(),
        until: IsoDate.optional(),
        timestamps: z.boolean().default(false),
        stdout: z.boolean().default(true),
        stderr: z.boolean().default(true),
        follow: z.boolean().default(false),
        streamId: z.string().regex(/^[a-f0-9]{8,64}$/).optional(),
      }),
      z.object({ lines: z.array(LogLine), truncated: z.boolean(), streaming: z.boolean() }),
      30_000,
    ),
    /**
     * Live output of a running container (and its stdin when spec.openStdin) over `streamId`;
     * ends with `Exit {exitCode}` when the container exits. Resize frames resize its tty.
     * `fromStart`: first what the current run printed before the attach (a client that started
     * the container and attaches right after misses nothing, e.g. a prompt).
     */
    attach: defineRequest(
      subject('containers.attach'),
      z.object({ id: ContainerId, streamId: z.string().regex(/^[a-f0-9]{8,64}$/), stdin: z.boolean().default(false), fromStart: z.boolean().default(false) }),
      z.object({ tty: z.boolean() }),
    ),
    /** Registers a command to run in a running container; run it with `execStart`. */
    execCreate: defineRequest(
      subject('exec.create'),
      z.object({
        containerId: ContainerId,
        cmd: z.array(z.string()).min(1),
        env: z.array(z.string().regex(/^[^=]+=/, 'KEY=value')).default([]),
        user: z.string().max(256).optional(),
        workingDir: z.string().startsWith('/').optional(),
        tty: z.boolean().default(false),
        attachStdin: z.boolean().default(false),
        /** Watched by the api, which holds the caller's connection; kept here with the exec (any api replica may start it). */
        detachKeys: z.string().max(128).default(''),
      }),
      z.object({ execId: ExecInfo.shape.id }),
    ),
    /**
     * Starts an exec. With `streamId` its stdio goes over the stream (Stdin from the caller only
     * when attachStdin; Resize when tty), ending with `Exit {exitCode}`; without, it runs detached.
     */
    execStart: defineRequest(
      subject('exec.start'),
      z.object({
        execId: ExecInfo.shape.id,
        streamId: z.string().regex(/^[a-f0-9]{8,64}$/).optional(),
        terminalSize: z.object({ rows: z.number().int().min(1).max(65535), cols: z.number().int().min(1).max(65535) }).optional(),
      }),
      ExecInfo,
      30_000,
    ),
    execInspect: defineRequest(subject('exec.inspect'), z.object({ execId: ExecInfo.shape.id }), ExecInfo),
    /** One sample; a caller streaming stats asks every second and keeps the previous one (docker's precpu). */
    stats: defineRequest(subject('containers.stats'), byId, ContainerStats),
    /**
     * `docker system df`: bytes of the container's writable layer (`sizeRw`) and of that plus its
     * image's layers (`sizeRootFs`), measured on its host.
     */
    diskUsage: defineRequest(subject('containers.disk-usage'), byId, z.object({ sizeRw: z.number().int().min(0), sizeRootFs: z.number().int().min(0) }), 30_000),
    /**
     * `network connect`: the endpoint joins the container's spec; a running container gets it in its
     * namespace now (`eth<N>`, the lowest free N), a stopped one at its next start. CONFLICT when
     * already connected; a failed wiring leaves the container as it was.
     */
    connectNetwork: defineRequest(subject('containers.networks.connect'), ConnectOnHost, ContainerRuntimeInfo, 30_000),
    /** `network disconnect`: the interface, its host end and the network's rules for it go; the spec forgets the network. */
    disconnectNetwork: defineRequest(subject('containers.networks.disconnect'), DisconnectOnHost, ContainerRuntimeInfo, 30_000),
    /** `docker top`: the container's processes, one row of strings per process under `titles`. */
    top: defineRequest(subject('containers.top'), byId, z.object({ titles: z.array(z.string()), processes: z.array(z.array(z.string())) })),
    /**
     * `docker cp`: what `path` names inside the container (running or stopped), resolved inside its
     * root (symlinks followed inside it, never out); the last symlink is not followed unless the
     * path ends in `/` or `/.`. NOT_FOUND for a missing path.
     */
    archiveStat: defineRequest(subject('containers.archive.stat'), z.object({ id: ContainerId, path: ArchivePath }), PathStat, 30_000),
    /**
     * A tar of `path` over `streamId` (top entry named after the path's last component, `.` for
     * `dir/.`): the caller grants credit (`Frame.Credit`, libs/bus ByteReceiver), the agent sends
     * `Stdin` frames within it and `StdinEnd`, or `Error`. The reply (the path's stat) comes first.
     */
    archiveGet: defineRequest(subject('containers.archive.get'), z.object({ id: ContainerId, path: ArchivePath, streamId: StreamId }), PathStat, 30_000),
    /**
     * Extracts a tar the caller sends over `streamId` (within the agent's credit, at most
     * CP_MAX_BYTES) into the directory `path`; the agent ends with `Exit {exitCode: 0}` or `Error`.
     * The reply comes once `path` is known to be a directory that may be written.
     */
    archivePut: defineRequest(
      subject('containers.archive.put'),
      z.object({ id: ContainerId, path: ArchivePath, streamId: StreamId, noOverwriteDirNonDir: z.boolean().default(true), copyUIDGID: z.boolean().default(false) }),
      z.object({}),
      30_000,
    ),
    /** Pre-fetches an image (what `create` does when the image is missing). */
    pullImage: defineRequest(
      subject('images.pull'),
      z.object({ reference: z.string().min(1).max(1024), registryAuth: RegistryAuth.optional() }),
      HostImage,
      PULL_TIMEOUT_MS,
    ),
    listImages: defineRequest(subject('images.list'), z.object({}), z.object({ images: z.array(HostImage) })),
    /** Forgets an image (by reference or digest); its layers are garbage-collected when unused. CONFLICT while a container uses it unless force. */
    removeImage: defineRequest(subject('images.remove'), z.object({ reference: z.string().min(1).max(1024), force: z.boolean().default(false) }), z.object({ removed: z.array(z.string()), layersDeleted: z.number().int() }), 60_000),
    /** `system prune`: forgets every image no container on this host uses and deletes their layers; bytes are the layers' unpacked sizes. */
    pruneImages: defineRequest(
      subject('images.prune'),
      z.object({}),
      z.object({ removedImages: z.array(z.string()), layersDeleted: z.number().int().nonnegative(), freedBytes: z.number().int().nonnegative() }),
      120_000,
    ),
    /** `name` as the team typed it: the agent stores it under the team's own name (apps/agent volume-store teamVolumeName). */
    createVolume: defineRequest(subject('volumes.create'), z.object({ name: VolumeName, teamId: z.string().uuid().nullable().default(null), labels: Labels.default({}) }), VolumeInfo),
    listVolumes: defineRequest(subject('volumes.list'), z.object({}), z.object({ volumes: z.array(VolumeInfo) })),
    /** CONFLICT while a container (running or not) uses it unless `force`; `name` and `teamId` as for createVolume. */
    removeVolume: defineRequest(subject('volumes.remove'), z.object({ name: VolumeName, teamId: z.string().uuid().nullable().default(null), force: z.boolean().default(false) }), z.object({ removed: z.boolean() })),
    /** `docker system df -v`: bytes under the volume's data directory, measured on its host; NOT_FOUND when it is not there. */
    volumeDiskUsage: defineRequest(subject('volumes.disk-usage'), z.object({ name: VolumeName, teamId: z.string().uuid().nullable().default(null) }), z.object({ size: z.number().int().min(0) }), 30_000),
  };
}
export type AgentContracts = ReturnType<typeof agentContracts>;
