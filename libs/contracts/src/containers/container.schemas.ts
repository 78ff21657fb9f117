import { z } from 'zod';
import { IsoDate, Labels } from '../common';
import { NetworkEndpoint } from '../network/networks.contracts';

/** How many networks one container may join (each is an interface and a rule set on its host). */
export const MAX_CONTAINER_NETWORKS = 8;

export const ContainerId = z.string().regex(/^[a-f0-9]{64}$/, 'a 64-character hex id');
export const ContainerName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'letters, digits, _ . - (max 128), starting with a letter or digit');
export const HostId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);

export const RestartPolicy = z.object({
  name: z.enum(['no', 'on-failure', 'always', 'unless-stopped']).default('no'),
  /** on-failure only: give up after this many restarts (0 = no limit). */
  maxRetries: z.number().int().min(0).default(0),
});
export type RestartPolicy = z.infer<typeof RestartPolicy>;

/** `-p [ip:]hostPort:containerPort[/proto]`; hostPort 0 lets the agent pick a free one. */
export const PortBinding = z.object({
  hostIp: z.string().default('0.0.0.0'),
  hostPort: z.number().int().min(0).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
});
export type PortBinding = z.infer<typeof PortBinding>;

/** `-v /host:/ctr[:ro]` (bind) or `-v name:/ctr[:ro]` (named volume made by the agent). */
export const VolumeMount = z.object({
  kind: z.enum(['bind', 'volume']),
  source: z.string().min(1).max(4096),
  target: z.string().startsWith('/').max(4096),
  readOnly: z.boolean().default(false),
});
export type VolumeMount = z.infer<typeof VolumeMount>;

export const Resources = z.object({
  memoryBytes: z.number().int().min(4 * 1024 * 1024).optional(),
  /** CPUs as a fraction, like `--cpus 1.5`. */
  cpus: z.number().positive().max(1024).optional(),
  cpuShares: z.number().int().min(2).max(262144).optional(),
  pidsLimit: z.number().int().positive().optional(),
});

export const Placement = z.object({
  /** Pin to one host (`--host`). */
  hostId: HostId.optional(),
  /** Host labels that must match exactly (`--constraint zone=a`). */
  constraints: Labels.default({}),
});

/** A capability name as Docker writes it, without the `CAP_` prefix (`NET_RAW`, `SYS_ADMIN`); `ALL` in drop/add lists. */
export const CapabilityName = z
  .string()
  .transform((name) => name.toUpperCase().replace(/^CAP_/, ''))
  .pipe(z.string().regex(/^[A-Z][A-Z_]{1,31}$/, 'a capability name such as NET_RAW or ALL'));

/** `--ulimit name=soft[:hard]`: a resource limit set (setrlimit) for the container's processes. */
export const Ulimit = z.object({
  name: z.enum(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']),
  soft: z.number().int().min(-1),
  hard: z.number().int().min(-1),
});
export type Ulimit = z.infer<typeof Ulimit>;

/**
 * Isolation knobs beyond Docker's defaults. Tightening (`readOnly`, `capDrop`, `ulimits`) is open to
 * every user; loosening (`capAdd`, `seccomp: unconfined`) is an admin decision (team policy).
 */
export const SecurityOptions = z.object({
  /** `--read-only`: the root filesystem is mounted read-only (volumes keep their own mode). */
  readOnly: z.boolean().default(false),
  capAdd: z.array(CapabilityName).max(64).default([]),
  capDrop: z.array(CapabilityName).max(64).default([]),
  ulimits: z.array(Ulimit).max(32).default([]),
  /** `--security-opt seccomp=unconfined` turns the default filter off. */
  seccomp: z.enum(['default', 'unconfined']).default('default'),
});
export type SecurityOptions = z.infer<typeof SecurityOptions>;

/**
 * `--health-cmd` and friends, or the create body's `Healthcheck`: what overrides the image's
 * HEALTHCHECK. `test` is Docker's form: `['CMD', arg…]`, `['CMD-SHELL', 'line']` or `['NONE']`
 * (no check, even if the image has one); absent, the image's command is used. An absent or 0
 * duration takes the image's value, then Docker's default (interval and timeout 30 s, start period 0,
 * retries 3).
 */
export const HealthcheckSpec = z.object({
  test: z
    .array(z.string().max(8192))
    .min(1)
    .max(256)
    .refine((t) => ['CMD', 'CMD-SHELL', 'NONE'].includes(t[0] as string), 'starts with CMD, CMD-SHELL or NONE')
    .refine((t) => (t[0] === 'NONE' ? t.length === 1 : t.length > 1), 'CMD and CMD-SHELL need a command, NONE takes none')
    .optional(),
  /** Docker refuses durations under 1 ms; 0 means "inherit". */
  intervalMs: z.number().int().min(0).max(86_400_000).refine((n) => n === 0 || n >= 1, 'at least 1 ms').optional(),
  timeoutMs: z.number().int().min(0).max(86_400_000).optional(),
  startPeriodMs: z.number().int().min(0).max(86_400_000).optional(),
  retries: z.number().int().min(0).max(1000).optional(),
});
export type HealthcheckSpec = z.infer<typeof HealthcheckSpec>;

/** Docker's health states: `starting` until the first success (or `retries` failures after the start period). */
export const HealthStatus = z.enum(['starting', 'healthy', 'unhealthy']);
export type HealthStatus = z.infer<typeof HealthStatus>;

/** What a user asks for: the platform-wide description of a container, before placement. */
/**
 * A container's networks, in order: the rule for how many and that none is listed twice, applied at
 * create and at every later `network connect` alike.
 */
export const ContainerNetworks = z
  .array(NetworkEndpoint)
  .max(MAX_CONTAINER_NETWORKS, `a container joins at most ${MAX_CONTAINER_NETWORKS} networks`)
  .refine((list) => new Set(list.map((n) => n.id)).size === list.length, 'a network is listed twice');

export const ContainerSpec = z.object({
  image: z.string().min(1).max(1024),
  command: z.array(z.string()).optional(),
  entrypoint: z.array(z.string()).optional(),
  env: z.array(z.string().regex(/^[^=]+=/, 'KEY=value')).default([]),
  workingDir: z.string().startsWith('/').optional(),
  user: z.string().max(256).optional(),
  hostname: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/).optional(),
  tty: z.boolean().default(false),
  openStdin: z.boolean().default(false),
  /** Docker's StdinOnce: when the first attached client closes its input, the container's stdin reaches end-of-file. */
  stdinOnce: z.boolean().default(false),
  /** `--init`: a tiny init is PID 1 (forwards signals, reaps zombies) and runs the entrypoint as its child. */
  init: z.boolean().default(false),
  ports: z.array(PortBinding).default([]),
  volumes: z.array(VolumeMount).default([]),
  network: z.enum(['bridge', 'none', 'host']).default('bridge'),
  /**
   * User-defined networks (`--network <name>`, with `network: bridge`), in place of the host's
   * default bridge: `eth0`, `eth1`… in this order, the default route through the first.
   */
  networks: ContainerNetworks.default([]),
  resources: Resources.default({}),
  security: SecurityOptions.default({ readOnly: false, capAdd: [], capDrop: [], ulimits: [], seccomp: 'default' }),
  restartPolicy: RestartPolicy.default({ name: 'no', maxRetries: 0 }),
  labels: Labels.default({}),
  placement: Placement.default({ constraints: {} }),
  /** `--rm`: remove the container once it exits. */
  autoRemove: z.boolean().default(false),
  stopSignal: z.string().optional(),
  stopTimeoutSeconds: z.number().int().min(0).max(3600).optional(),
  healthcheck: HealthcheckSpec.optional(),
});
export type ContainerSpec = z.infer<typeof ContainerSpec>;
export type ContainerSpecInput = z.input<typeof ContainerSpec>;

export const ContainerState = z.enum(['created', 'running', 'paused', 'restarting', 'exited', 'lost', 'removing', 'dead']);
export type ContainerState = z.infer<typeof ContainerState>;

export const ContainerRecord = z.object({
  id: ContainerId,
  name: ContainerName,
  hostId: HostId.nullable(),
  teamId: z.string().uuid().nullable(),
  image: z.string(),
  imageDigest: z.string().nullable(),
  spec: ContainerSpec,
  labels: Labels,
  state: ContainerState,
  exitCode: z.number().int().nullable(),
  oomKilled: z.boolean(),
  restartCount: z.number().int(),
  /** Null when the container has no health check (or has not reported one yet). */
  health: HealthStatus.nullable().default(null),
  createdAt: IsoDate,
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
});
export type ContainerRecord = z.infer<typeof ContainerRecord>;
