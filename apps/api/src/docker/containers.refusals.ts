import { NotSupportedByMuelleError } from './errors';

/**
 * Which fields of Docker's `POST /containers/create` body Muelle reads, which it accepts at their
 * default only, and the CLI option each one comes from. Anything not at its zero value that Muelle
 * does not implement is refused with a 400 naming the option, never silently dropped — including
 * fields a newer CLI adds (named by their JSON path then). The docker CLI 28 sends every field of
 * the struct; its zero values pass (see containers.mapping.spec.ts).
 */

/** Config fields toMuelleCreate maps (or that only shape the client's own I/O). */
const CONFIG_READ = new Set([
  'Hostname', 'User', 'Tty', 'OpenStdin', 'Env', 'Cmd', 'Entrypoint', 'Image', 'WorkingDir', 'Labels', 'StopSignal', 'StopTimeout', 'ExposedPorts',
  'AttachStdin', 'AttachStdout', 'AttachStderr', 'StdinOnce', 'ArgsEscaped', 'HostConfig', 'NetworkingConfig', 'Volumes', 'Healthcheck',
]);
/** HostConfig fields toMuelleCreate maps, or client-side ones (`--cidfile`, the terminal size). */
const HOST_CONFIG_READ = new Set([
  'Binds', 'NetworkMode', 'PortBindings', 'PublishAllPorts', 'RestartPolicy', 'AutoRemove', 'Mounts', 'Memory', 'NanoCpus', 'CpuShares', 'PidsLimit',
  'CapAdd', 'CapDrop', 'ReadonlyRootfs', 'SecurityOpt', 'Ulimits', 'Init', 'ContainerIDFile', 'ConsoleSize',
]);

/** Values other than the zero value that mean "Docker's default" and so are accepted. */
const DEFAULT_SPELLINGS: Record<string, readonly unknown[]> = {
  IpcMode: ['private', 'shareable'],
  CgroupnsMode: ['private'],
  Runtime: ['runc'],
  Isolation: ['default'],
  MemorySwappiness: [-1],
};

/** The CLI option behind each field, for the error message. */
const OPTION_OF: Record<string, string> = {
  Domainname: '--domainname',
  StartInterval: '--health-start-interval',
  MacAddress: '--mac-address',
  NetworkDisabled: 'NetworkDisabled',
  OnBuild: 'OnBuild',
  Shell: 'Shell',
  LogConfig: '--log-driver/--log-opt',
  VolumeDriver: '--volume-driver',
  VolumesFrom: '--volumes-from',
  Annotations: '--annotation',
  CgroupnsMode: '--cgroupns',
  Dns: '--dns',
  DnsOptions: '--dns-option',
  DnsSearch: '--dns-search',
  ExtraHosts: '--add-host',
  GroupAdd: '--group-add',
  IpcMode: '--ipc',
  Cgroup: '--cgroup',
  Links: '--link',
  OomScoreAdj: '--oom-score-adj',
  PidMode: '--pid',
  Privileged: '--privileged',
  UTSMode: '--uts',
  UsernsMode: '--userns',
  ShmSize: '--shm-size',
  Sysctls: '--sysctl',
  Runtime: '--runtime',
  Isolation: '--isolation',
  Tmpfs: '--tmpfs',
  StorageOpt: '--storage-opt',
  CgroupParent: '--cgroup-parent',
  BlkioWeight: '--blkio-weight',
  BlkioWeightDevice: '--blkio-weight-device',
  BlkioDeviceReadBps: '--device-read-bps',
  BlkioDeviceWriteBps: '--device-write-bps',
  BlkioDeviceReadIOps: '--device-read-iops',
  BlkioDeviceWriteIOps: '--device-write-iops',
  CpuPeriod: '--cpu-period',
  CpuQuota: '--cpu-quota',
  CpuRealtimePeriod: '--cpu-rt-period',
  CpuRealtimeRuntime: '--cpu-rt-runtime',
  CpusetCpus: '--cpuset-cpus',
  CpusetMems: '--cpuset-mems',
  Devices: '--device',
  DeviceCgroupRules: '--device-cgroup-rule',
  DeviceRequests: '--gpus',
  KernelMemory: '--kernel-memory',
  KernelMemoryTCP: '--kernel-memory-tcp',
  MemoryReservation: '--memory-reservation',
  MemorySwap: '--memory-swap',
  MemorySwappiness: '--memory-swappiness',
  OomKillDisable: '--oom-kill-disable',
  CpuCount: '--cpu-count',
  CpuPercent: '--cpu-percent',
  IOMaximumIOps: '--io-maxiops',
  IOMaximumBandwidth: '--io-maxbandwidth',
  // `--security-opt systempaths=unconfined` sends empty lists: an empty list unmasks everything.
  MaskedPaths: '--security-opt systempaths=unconfined',
  ReadonlyPaths: '--security-opt systempaths=unconfined',
  Aliases: '--network-alias',
  IPAMConfig: '--ip/--ip6',
  DriverOpts: '--network driver options',
  GwPriority: '--network gw-priority',
  DNSNames: '--network DNS names',
};
/** Fields whose default is null (an empty list, or 0, is a refused choice). */
const NULL_IS_DEFAULT = new Set(['MaskedPaths', 'ReadonlyPaths', 'MemorySwappiness']);
/** Maps whose keys are the user's choices: any key is a setting, even with an empty value. */
const MAPS = new Set(['Tmpfs', 'Sysctls', 'StorageOpt', 'Annotations', 'DriverOpts']);

/** Endpoint fields the CLI fills in with zero values for `--network X`, and `Aliases` (read by toMuelleCreate). */
const ENDPOINT_READ = new Set(['NetworkID', 'EndpointID', 'Gateway', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'Aliases']);

function isZero(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isZero);
  return false;
}

function refuse(field: string, path: string): never {
  throw new NotSupportedByMuelleError(`the option ${OPTION_OF[field] ?? path}`, 400);
}

function checkUnread(object: Record<string, unknown> | null | undefined, read: Set<string>, prefix: string): void {
  for (const [field, value] of Object.entries(object ?? {})) {
    if (read.has(field)) continue;
    const unset = NULL_IS_DEFAULT.has(field) ? value === null || value === undefined : MAPS.has(field) ? !value || !Object.keys(value).length : isZero(value);
    if (unset) continue;
    if (DEFAULT_SPELLINGS[field]?.includes(value)) continue;
    if (field === 'LogConfig' && isZero({ ...(value as object), Type: (value as { Type?: string }).Type === 'json-file' ? '' : (value as { Type?: string }).Type })) continue;
    refuse(field, `${prefix}${field}`);
  }
}

/** Throws a 400 naming the first option of `body` that Muelle does not implement. */
export function refuseUnimplementedOptions(body: Record<string, unknown>): void {
  checkUnread(body, CONFIG_READ, '');
  checkUnread(body.HostConfig as Record<string, unknown> | undefined, HOST_CONFIG_READ, 'HostConfig.');
  const endpoints = (body.NetworkingConfig as { EndpointsConfig?: Record<string, Record<string, unknown> | null> } | undefined)?.EndpointsConfig ?? {};
  for (const [network, endpoint] of Object.entries(endpoints)) checkUnread(endpoint, ENDPOINT_READ, `NetworkingConfig.EndpointsConfig.${network}.`);
  const healthcheck = body.Healthcheck as Record<string, unknown> | null | undefined;
  if (healthcheck) checkUnread(healthcheck, HEALTHCHECK_READ, 'Healthcheck.');
}

/** `POST /networks/{id}/connect`'s `EndpointConfig`: a 400 naming the first option besides `Aliases` that is set (a static `IPAddress` too). */
export function refuseUnimplementedEndpointOptions(endpoint: Record<string, unknown> | null | undefined): void {
  checkUnread(endpoint, CONNECT_READ, 'EndpointConfig.');
}
const CONNECT_READ = new Set(['Aliases']);

/** Docker's health-check fields Muelle runs; `StartInterval` (probes during the start period at another pace) is not. */
const HEALTHCHECK_READ = new Set(['Test', 'Interval', 'Timeout', 'StartPeriod', 'Retries']);

/** `--mount` keys Muelle reads; any other set (bind propagation, volume driver options, tmpfs size…) is refused. */
const MOUNT_READ = new Set(['Type', 'Source', 'Target', 'ReadOnly', 'Consistency']);

export function refuseUnimplementedMountOptions(mount: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(mount))
    if (!MOUNT_READ.has(field) && !isZero(value)) throw new NotSupportedByMuelleError(`the --mount option ${field}`, 400);
}

/** `--security-opt`: `seccomp=unconfined` is carried into the spec; `no-new-privileges` is always on. */
export function seccompOf(securityOpt: readonly string[] | null | undefined): 'default' | 'unconfined' {
  let seccomp: 'default' | 'unconfined' = 'default';
  for (const option of securityOpt ?? []) {
    const [key, value = ''] = option.split(/[=:](.*)/s);
    if (key === 'no-new-privileges' && (value === '' || value === 'true')) continue;
    if (key === 'seccomp' && value === 'unconfined') seccomp = 'unconfined';
    else if (key === 'seccomp') throw new NotSupportedByMuelleError('the option --security-opt seccomp=<profile> (a custom profile; only seccomp=unconfined)', 400);
    else throw new NotSupportedByMuelleError(`the option --security-opt ${key === 'no-new-privileges' ? option : key}`, 400);
  }
  return seccomp;
}
