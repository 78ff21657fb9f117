import { ContainerRecord, InvalidArgumentError } from '@muelle/contracts';
import type { ContainerView } from '../containers/containers.service';
import { CreateContainerBody } from '../containers/containers.schemas';
import { parseRequest } from '../http/validation';
import { refuseUnimplementedMountOptions, refuseUnimplementedOptions, seccompOf } from './containers.refusals';
import { NotSupportedByMuelleError } from './errors';
import { dockerNetworks } from './network-settings';

/** The image name as the user typed it (Docker shows that, Muelle stores the resolved one). */
export const DOCKER_IMAGE_LABEL = 'muelle.docker.image';
/** `--rm`: the Docker layer removes the container after it exited and its output was sent. */
export const DOCKER_AUTO_REMOVE_LABEL = 'muelle.docker.auto-remove';

/** The part of Docker's `POST /containers/create` body that Muelle reads (the rest: containers.refusals.ts). */
export interface DockerCreateBody {
  Hostname?: string;
  User?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  Entrypoint?: string[] | string | null;
  Image?: string;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  Healthcheck?: { Test?: string[] | null; Interval?: number | null; Timeout?: number | null; StartPeriod?: number | null; Retries?: number | null } | null;
  HostConfig?: {
    Binds?: string[] | null;
    NetworkMode?: string;
    PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
    PublishAllPorts?: boolean;
    RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
    AutoRemove?: boolean;
    Mounts?: Array<{ Type?: string; Source?: string; Target?: string; ReadOnly?: boolean; [unread: string]: unknown }> | null;
    Memory?: number;
    NanoCpus?: number;
    CpuShares?: number;
    PidsLimit?: number | null;
    CapAdd?: string[] | null;
    CapDrop?: string[] | null;
    ReadonlyRootfs?: boolean;
    SecurityOpt?: string[] | null;
    Ulimits?: Array<{ Name?: string; Soft?: number; Hard?: number }> | null;
    Init?: boolean | null;
    [unread: string]: unknown;
  };
  NetworkingConfig?: { EndpointsConfig?: Record<string, Record<string, unknown> | null> | null } | null;
  [unread: string]: unknown;
}

const NS_PER_MS = 1_000_000;

/** Docker's `Healthcheck` (durations in ns, 0 = inherit the image's) → Muelle's (ms); absent when it sets nothing. */
function healthcheckOf(check: DockerCreateBody['Healthcheck']) {
  if (!check) return undefined;
  const ms = (ns: number | null | undefined, field: string) => {
    if (!ns) return undefined;
    if (ns < NS_PER_MS) throw new InvalidArgumentError(`Healthcheck.${field} must be at least 1 ms (it is in nanoseconds)`);
    return Math.round(ns / NS_PER_MS);
  };
  const spec = {
    test: check.Test?.length ? check.Test : undefined,
    intervalMs: ms(check.Interval, 'Interval'),
    timeoutMs: ms(check.Timeout, 'Timeout'),
    startPeriodMs: ms(check.StartPeriod, 'StartPeriod'),
    retries: check.Retries || undefined,
  };
  return Object.values(spec).some((v) => v !== undefined) ? spec : undefined;
}

/** Muelle's health check → Docker's `Config.Healthcheck` (ns). */
function dockerHealthcheck(check: ContainerRecord['spec']['healthcheck']) {
  if (!check) return undefined;
  return {
    Test: check.test ?? [],
    Interval: (check.intervalMs ?? 0) * NS_PER_MS,
    Timeout: (check.timeoutMs ?? 0) * NS_PER_MS,
    StartPeriod: (check.startPeriodMs ?? 0) * NS_PER_MS,
    Retries: check.retries ?? 0,
  };
}

const asArray = (value: string[] | string | null | undefined): string[] | undefined => (value === null || value === undefined ? undefined : Array.isArray(value) ? value : [value]);

function portKey(key: string): { port: number; protocol: 'tcp' | 'udp' } {
  const [port, protocol = 'tcp'] = key.split('/');
  const number = Number(port);
  if (!Number.isInteger(number) || number < 1 || number > 65535) throw new InvalidArgumentError(`invalid port ${key}`);
  if (protocol !== 'tcp' && protocol !== 'udp') throw new NotSupportedByMuelleError(`port protocol ${protocol}`, 400);
  return { port: number, protocol };
}

/** Docker's create body + `?name=` → Muelle's create body; options Muelle cannot honour are refused (400). */
export function toMuelleCreate(body: DockerCreateBody, name: string | undefined, image: string, typedImage: string): CreateContainerBody {
  refuseUnimplementedOptions(body);
  const host = body.HostConfig ?? {};
  if (host.PidsLimit !== undefined && host.PidsLimit !== null && host.PidsLimit < 0) throw new NotSupportedByMuelleError('the option --pids-limit -1 (unlimited; every container has a pids limit)', 400);

  const networkMode = host.NetworkMode ?? '';
  let network: 'bridge' | 'host' | 'none';
  // Any other name is one of the team's networks (`--network shop_default`); `container:<id>` is not.
  const networks: Array<{ network: string; aliases: string[] }> = [];
  const endpoints = body.NetworkingConfig?.EndpointsConfig ?? {};
  if (networkMode === '' || networkMode === 'default' || networkMode === 'bridge') network = 'bridge';
  else if (networkMode === 'host' || networkMode === 'none') network = networkMode;
  else if (!networkMode.includes(':')) {
    network = 'bridge';
    // `--network-alias`, compose's service name: the endpoint config under the network's name.
    networks.push({ network: networkMode, aliases: aliasesOf(endpoints[networkMode]) });
  } else throw new NotSupportedByMuelleError(`network mode ${JSON.stringify(networkMode)}`, 400);
  for (const key of Object.keys(endpoints)) {
    if (key === networkMode || (network === 'bridge' && !networks.length && key === 'bridge')) continue;
    // docker CLI 28 sends repeated `--network` as one endpoint config each: the other networks, after NetworkMode's (eth0).
    if (!networks.length || ['bridge', 'default', 'host', 'none'].includes(key)) throw new NotSupportedByMuelleError(`an endpoint config for ${JSON.stringify(key)} besides network mode ${JSON.stringify(networkMode || 'default')} (several networks: team networks only)`, 400);
    networks.push({ network: key, aliases: aliasesOf(endpoints[key]) });
  }
  if (!networks.length && Object.values(endpoints).some((e) => aliasesOf(e).length)) throw new InvalidArgumentError('network-scoped aliases are supported only for user-defined networks');

  const ports: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' }> = [];
  for (const [key, bindings] of Object.entries(host.PortBindings ?? {})) {
    const { port, protocol } = portKey(key);
    for (const binding of bindings ?? [{}]) {
      const hostPort = binding.HostPort ? Number(binding.HostPort) : 0;
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw new InvalidArgumentError(`invalid host port ${binding.HostPort}`);
      ports.push({ hostIp: binding.HostIp || '0.0.0.0', hostPort, containerPort: port, protocol });
    }
  }
  if (host.PublishAllPorts) {
    for (const key of Object.keys(body.ExposedPorts ?? {})) {
      const { port, protocol } = portKey(key);
      if (!ports.some((p) => p.containerPort === port && p.protocol === protocol)) ports.push({ hostIp: '0.0.0.0', hostPort: 0, containerPort: port, protocol });
    }
  }

  // A volume without a source is a new anonymous one (dockerd's rule): `-v /data` (the body's
  // `Volumes`), a bind spec of one path, a `volume` mount without `Source`.
  const volumes: Array<{ kind: 'bind' | 'volume'; source?: string; target: string; readOnly: boolean }> = [];
  for (const bind of host.Binds ?? []) {
    const parts = bind.split(':');
    if (parts.length === 1 && bind.startsWith('/')) {
      volumes.push({ kind: 'volume', target: bind, readOnly: false });
      continue;
    }
    const [source, target, mode = ''] = parts;
    if (!source || !target) throw new InvalidArgumentError(`invalid volume specification: ${bind}`);
    // A new empty volume is filled from the image (copy-up); skipping that is not implemented.
    if (mode.split(',').includes('nocopy')) throw new NotSupportedByMuelleError('the volume option nocopy', 400);
    volumes.push({ kind: source.startsWith('/') ? 'bind' : 'volume', source, target, readOnly: mode.split(',').includes('ro') });
  }
  for (const mount of host.Mounts ?? []) {
    if (mount.Type !== 'bind' && mount.Type !== 'volume') throw new NotSupportedByMuelleError(`mount type ${JSON.stringify(mount.Type)}`, 400);
    refuseUnimplementedMountOptions(mount);
    if (!mount.Target) throw new InvalidArgumentError('a mount needs a target');
    if (mount.Type === 'bind' && !mount.Source) throw new InvalidArgumentError('a bind mount needs a source');
    volumes.push({ kind: mount.Type, source: mount.Source || undefined, target: mount.Target, readOnly: !!mount.ReadOnly });
  }
  for (const target of Object.keys(body.Volumes ?? {})) if (!volumes.some((v) => v.target === target)) volumes.push({ kind: 'volume', target, readOnly: false });

  const restart = host.RestartPolicy?.Name || 'no';
  const labels: Record<string, string> = { ...(body.Labels ?? {}), [DOCKER_IMAGE_LABEL]: typedImage };
  if (host.AutoRemove) labels[DOCKER_AUTO_REMOVE_LABEL] = 'true';
  return parseRequest(CreateContainerBody, {
    name,
    image,
    command: asArray(body.Cmd),
    entrypoint: asArray(body.Entrypoint),
    env: body.Env ?? [],
    workingDir: body.WorkingDir || undefined,
    user: body.User || undefined,
    hostname: body.Hostname || undefined,
    tty: !!body.Tty,
    openStdin: !!body.OpenStdin,
    stdinOnce: !!body.OpenStdin && !!body.StdinOnce,
    ports,
    volumes,
    network,
    networks,
    resources: {
      memoryBytes: host.Memory || undefined,
      cpus: host.NanoCpus ? host.NanoCpus / 1e9 : undefined,
      cpuShares: host.CpuShares || undefined,
      pidsLimit: host.PidsLimit && host.PidsLimit > 0 ? host.PidsLimit : undefined,
    },
    security: {
      readOnly: !!host.ReadonlyRootfs,
      capAdd: host.CapAdd ?? [],
      capDrop: host.CapDrop ?? [],
      ulimits: (host.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
      seccomp: seccompOf(host.SecurityOpt),
    },
    init: !!host.Init,
    restartPolicy: { name: restart, maxRetries: host.RestartPolicy?.MaximumRetryCount ?? 0 },
    labels,
    // Auto-removal is done by the Docker layer once the output reached the client (see DockerSessions).
    autoRemove: false,
    stopSignal: body.StopSignal || undefined,
    stopTimeoutSeconds: body.StopTimeout ?? undefined,
    healthcheck: healthcheckOf(body.Healthcheck),
  });
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function ago(iso: string): string {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds < 60) return `${Math.floor(seconds)} seconds`;
  if (seconds < 3600) return Math.floor(seconds / 60) === 1 ? 'About a minute' : `${Math.floor(seconds / 60)} minutes`;
  if (seconds < 172800) return Math.floor(seconds / 3600) === 1 ? 'About an hour' : `${Math.floor(seconds / 3600)} hours`;
  return `${Math.floor(seconds / 86400)} days`;
}

/** Docker's state names; Muelle's `lost` (host gone) is shown as `dead`. */
export function dockerState(state: ContainerRecord['state']): string {
  return state === 'lost' ? 'dead' : state;
}

/** Docker's suffix of a running container's status: ` (healthy)`, ` (health: starting)`. */
function healthSuffix(health: ContainerRecord['health'] | undefined): string {
  if (!health) return '';
  return health === 'starting' ? ' (health: starting)' : ` (${health})`;
}

/** The server-computed `Status` column of `docker ps`. */
export function statusText(c: { state: ContainerRecord['state']; exitCode: number | null; startedAt: string | null; finishedAt: string | null; health?: ContainerRecord['health'] }): string {
  switch (c.state) {
    case 'running':
      return `Up ${c.startedAt ? ago(c.startedAt) : 'Less than a second'}${healthSuffix(c.health)}`;
    case 'exited':
      return `Exited (${c.exitCode ?? 0}) ${c.finishedAt ? ago(c.finishedAt) : ''} ago`.replace('  ', ' ');
    case 'restarting':
      return `Restarting (${c.exitCode ?? 0})`;
    case 'lost':
      return 'Dead (host unreachable)';
    case 'removing':
      return 'Removal In Progress';
    default:
      return c.state === 'created' ? 'Created' : c.state;
  }
}

const portsMap = (ports: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: string }>) => {
  const map: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) (map[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  return map;
};

/**
 * `Mounts` as dockerd 20.10 shows them. A volume's directory is on its host, which the client
 * cannot reach: Source is left empty, as the volume's Mountpoint (volumes.mapping.ts).
 */
function mountsOf(spec: ContainerRecord['spec']) {
  return spec.volumes.map((v) =>
    v.kind === 'volume'
      ? { Type: 'volume', Name: v.source, Source: '', Destination: v.target, Driver: 'local', Mode: v.readOnly ? 'ro' : '', RW: !v.readOnly, Propagation: '' }
      : { Type: 'bind', Source: v.source, Destination: v.target, Mode: v.readOnly ? 'ro' : '', RW: !v.readOnly, Propagation: 'rprivate' },
  );
}

const commandOf = (record: ContainerRecord) => [...(record.spec.entrypoint ?? []), ...(record.spec.command ?? [])];

/** One row of `GET /containers/json`. */
export function toListItem(record: ContainerRecord) {
  const command = commandOf(record);
  return {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: record.spec.labels[DOCKER_IMAGE_LABEL] ?? record.image,
    ImageID: record.imageDigest ?? '',
    Command: command.join(' '),
    Created: Math.floor(Date.parse(record.createdAt) / 1000),
    Ports: record.spec.ports.map((p) => ({ IP: p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort || undefined, Type: p.protocol })),
    Labels: record.spec.labels,
    State: dockerState(record.state),
    Status: statusText(record),
    HostConfig: { NetworkMode: networkModeOf(record.spec) },
    NetworkSettings: { Networks: {} },
    Mounts: mountsOf(record.spec),
  };
}

/** `GET /containers/{id}/json`: what `docker inspect` and `--format` templates read. */
export function toInspect(view: ContainerView) {
  const runtime = view.runtime;
  const state = runtime?.state ?? view.state;
  const ports = runtime?.ports ?? view.spec.ports;
  const [path = '', ...args] = commandOf(view);
  const ip = runtime?.ipAddress ?? '';
  return {
    Id: view.id,
    Created: view.createdAt,
    Path: path,
    Args: args,
    State: {
      Status: dockerState(state),
      Running: state === 'running',
      Paused: state === 'paused',
      Restarting: state === 'restarting',
      OOMKilled: view.oomKilled,
      Dead: state === 'dead' || state === 'lost',
      Pid: runtime?.pid ?? 0,
      ExitCode: runtime?.exitCode ?? view.exitCode ?? 0,
      Error: runtime?.error ?? '',
      StartedAt: runtime?.startedAt ?? view.startedAt ?? ZERO_TIME,
      FinishedAt: runtime?.finishedAt ?? view.finishedAt ?? ZERO_TIME,
      ...(runtime?.health && {
        Health: {
          Status: runtime.health.status,
          FailingStreak: runtime.health.failingStreak,
          Log: runtime.health.log.map((p) => ({ Start: p.start, End: p.end, ExitCode: p.exitCode, Output: p.output })),
        },
      }),
    },
    Image: view.imageDigest ?? '',
    Name: `/${view.name}`,
    RestartCount: view.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: view.spec.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`),
      NetworkMode: networkModeOf(view.spec),
      PortBindings: portsMap(view.spec.ports),
      RestartPolicy: { Name: view.spec.restartPolicy.name, MaximumRetryCount: view.spec.restartPolicy.maxRetries },
      AutoRemove: view.spec.labels[DOCKER_AUTO_REMOVE_LABEL] === 'true' || view.spec.autoRemove,
      Memory: view.spec.resources.memoryBytes ?? 0,
      NanoCpus: view.spec.resources.cpus ? Math.round(view.spec.resources.cpus * 1e9) : 0,
      CpuShares: view.spec.resources.cpuShares ?? 0,
      PidsLimit: view.spec.resources.pidsLimit ?? null,
      Privileged: false,
      ReadonlyRootfs: view.spec.security.readOnly,
      CapAdd: view.spec.security.capAdd.length ? view.spec.security.capAdd : null,
      CapDrop: view.spec.security.capDrop.length ? view.spec.security.capDrop : null,
      Ulimits: view.spec.security.ulimits.length ? view.spec.security.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) : null,
      SecurityOpt: view.spec.security.seccomp === 'unconfined' ? ['seccomp=unconfined'] : null,
    },
    Mounts: mountsOf(view.spec),
    Config: {
      Hostname: view.spec.hostname ?? view.id.slice(0, 12),
      User: view.spec.user ?? '',
      Tty: view.spec.tty,
      OpenStdin: view.spec.openStdin,
      StdinOnce: view.spec.stdinOnce ?? false,
      Env: view.spec.env,
      Cmd: view.spec.command ?? null,
      Entrypoint: view.spec.entrypoint ?? null,
      Image: view.spec.labels[DOCKER_IMAGE_LABEL] ?? view.image,
      WorkingDir: view.spec.workingDir ?? '',
      Labels: view.spec.labels,
      ExposedPorts: Object.fromEntries(view.spec.ports.map((p) => [`${p.containerPort}/${p.protocol}`, {}])),
      StopSignal: view.spec.stopSignal ?? 'SIGTERM',
      // The check the agent runs (the image's merged with the container's), else what was asked for.
      Healthcheck: dockerHealthcheck(runtime?.health ?? view.spec.healthcheck),
    },
    NetworkSettings: {
      IPAddress: ip,
      Gateway: '',
      MacAddress: '',
      Ports: portsMap(ports),
      Networks: dockerNetworks(view),
    },
    /** Muelle's addition: where the container runs. */
    Node: { ID: view.hostId, Addr: view.hostAddress },
  };
}

function aliasesOf(endpoint: Record<string, unknown> | null | undefined): string[] {
  const aliases = endpoint?.Aliases;
  if (aliases === undefined || aliases === null) return [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string')) throw new InvalidArgumentError('NetworkingConfig.EndpointsConfig.*.Aliases must be a list of names');
  return aliases as string[];
}

/** Docker's `HostConfig.NetworkMode`: the user network's name, `default` for the host's bridge. */
function networkModeOf(spec: { network: string; networks?: ReadonlyArray<{ name: string }> }): string {
  return spec.networks?.[0]?.name ?? (spec.network === 'bridge' ? 'default' : spec.network);
}
