import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate, Labels } from '../common';
import { ContainerSpec, PortBinding } from '../containers/container.schemas';
import { NetworkAlias } from '../network/networks.contracts';

/**
 * A service name is a DNS label, so a resolver can later answer `<name>` (its healthy replicas) and
 * `tasks.<name>` (every task) without renaming anything.
 */
export const ServiceDnsName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS label: lowercase letters, digits and -, at most 63');

/** Swarm's `update_config`: how a changed spec replaces the running tasks. */
export const UpdateConfig = z.object({
  /** Tasks replaced at once (0: all). */
  parallelism: z.number().int().min(0).max(1000).default(1),
  /** Wait between batches, counted from the start of the previous batch once it is ready. */
  delayMs: z.number().int().min(0).max(3_600_000).default(0),
  /** stop-first: old task removed, then its replacement made; start-first: replacement healthy, then the old one removed. */
  order: z.enum(['stop-first', 'start-first']).default('stop-first'),
  /** What a new task that exits or turns unhealthy during the update does: stop the update (pause), go back to the previous spec (rollback), or carry on. */
  failureAction: z.enum(['pause', 'rollback', 'continue']).default('pause'),
  /** How long a new task must stay up (and healthy, with a check) to count as a success. */
  monitorMs: z.number().int().min(0).max(3_600_000).default(2_000),
  /** Swarm's max_failure_ratio: the share of the replicas whose new tasks may fail before failureAction applies (0: the first failure). */
  maxFailureRatio: z.number().min(0).max(1).default(0),
});
export type UpdateConfig = z.infer<typeof UpdateConfig>;

/**
 * Swarm's `restart_policy`: which failed tasks the reconciler replaces, how soon, and how often.
 * A task fails when it exits or turns unhealthy; tasks on a lost or drained host are replaced at once
 * and never counted (their host failed, not they).
 */
export const ServiceRestartPolicy = z.object({
  /** Which exited tasks are replaced: any, on-failure (non-zero exit or unhealthy), none. */
  condition: z.enum(['any', 'on-failure', 'none']).default('any'),
  /** Wait after a task failed before its replacement is made (Swarm's default, 5 s). */
  delayMs: z.number().int().min(0).max(3_600_000).default(5_000),
  /**
   * Failed tasks replaced within `windowMs` before the reconciler gives up and leaves the next one as it
   * is (0: no limit). Counted over the service's tasks (Swarm counts per replica slot; tasks here have no slots).
   */
  maxAttempts: z.number().int().min(0).max(1000).default(0),
  /** How far back failures count against maxAttempts; a replacement that runs this long no longer counts (0: since the spec last changed). */
  windowMs: z.number().int().min(0).max(86_400_000).default(0),
});
export type ServiceRestartPolicy = z.infer<typeof ServiceRestartPolicy>;

/**
 * One failed task as the restart policy saw it: replaced (`restarted`) or left as it is, and why.
 * Kept on the service record while it still counts (window, delay) or, for a task left, while it exists.
 */
export const RestartEntry = z.object({
  task: z.string().min(1).max(64),
  at: IsoDate,
  exitCode: z.number().int().nullable(),
  restarted: z.boolean(),
  reason: z.string().max(500),
});
export type RestartEntry = z.infer<typeof RestartEntry>;

/**
 * A service's published port. `ingress` (the default, as in Swarm): the routing mesh publishes it on
 * every ready host and balances it over the service's healthy replicas wherever they run; each task
 * then publishes its container port host-mode on a backend port of its own (MESH_BACKEND_PORTS), which
 * the other hosts' mesh rules forward to. `host`: published only on the hosts that run a task, on
 * `hostPort` (one task per host).
 */
export const ServicePort = PortBinding.extend({ mode: z.enum(['ingress', 'host']).default('ingress') });
export type ServicePort = z.infer<typeof ServicePort>;

/** Backend ports of ingress tasks: one per task and port, picked by the api when it makes the task. */
export const MESH_BACKEND_PORTS = { min: 30000, max: 32767 } as const;

/**
 * A team network a service's tasks join (by name, so a network made again under the same name is
 * joined again), with the aliases each task answers to there besides the service's name. How many a
 * task may join is the container's rule (CreateContainerBody.networks), checked when the service is
 * made or changed.
 */
export const ServiceNetwork = z.object({
  network: z.string().min(1).max(128),
  aliases: z.array(NetworkAlias).max(32).default([]),
});
export type ServiceNetwork = z.infer<typeof ServiceNetwork>;

/** The desired state of a service: what each task (container) runs, and how many. */
export const ServiceSpec = ContainerSpec.pick({
  image: true,
  command: true,
  entrypoint: true,
  env: true,
  workingDir: true,
  user: true,
  ports: true,
  volumes: true,
  network: true,
  resources: true,
  labels: true,
  healthcheck: true,
  stopSignal: true,
  stopTimeoutSeconds: true,
}).extend({
  /** Team networks every task joins in place of its host's default bridge; `<service>` and `tasks.<service>` resolve on them. */
  networks: z.array(ServiceNetwork).max(32).default([]),
  /** Host labels a task's host must have (`--constraint zone=a`). */
  constraints: Labels.default({}),
  replicas: z.number().int().min(0).max(1000).default(1),
  restartPolicy: ServiceRestartPolicy.default(ServiceRestartPolicy.parse({})),
  updateConfig: UpdateConfig.default(UpdateConfig.parse({})),
  ports: z.array(ServicePort).default([]),
});
export type ServiceSpec = z.infer<typeof ServiceSpec>;
export type ServiceSpecInput = z.input<typeof ServiceSpec>;

/**
 * Where the latest change stands: `updating` while old tasks are replaced, `paused` when a new task
 * failed (failureAction pause), `rollback_started`/`rollback_completed` after an automatic or asked rollback.
 */
export const UpdateState = z.enum(['completed', 'updating', 'paused', 'rollback_started', 'rollback_completed']);
export type UpdateState = z.infer<typeof UpdateState>;

/** Bound of the restart record: maxAttempts (≤1000) restarted entries, plus the tasks left (≤ replicas, 1000), plus the ones still delaying. */
export const RESTART_HISTORY_MAX = 5000;

export const ServiceRecord = z.object({
  id: z.string().uuid(),
  name: ServiceDnsName,
  teamId: z.string().uuid().nullable(),
  /** The user the reconciler acts for (quota, pull rights, audit). */
  ownerId: z.string().uuid(),
  spec: ServiceSpec,
  /** The spec before the last update: what `rollback` goes back to. */
  previousSpec: ServiceSpec.nullable(),
  /** Bumped at every spec change; a task carries the version it was made for. */
  version: z.number().int().min(1),
  updateState: UpdateState,
  updateMessage: z.string(),
  /** New-version tasks that failed during the current update (counted against maxFailureRatio). */
  updateFailedTasks: z.array(z.string()).max(1000).default([]),
  /** The restart policy's record of failed tasks (see RestartEntry); emptied at every new spec version. */
  restartHistory: z.array(RestartEntry).max(RESTART_HISTORY_MAX).default([]),
  createdAt: IsoDate,
  updatedAt: IsoDate,
});
export type ServiceRecord = z.infer<typeof ServiceRecord>;

/** Task labels: which service and which spec version a container belongs to. */
export const SERVICE_ID_LABEL = 'muelle.service.id';
export const SERVICE_VERSION_LABEL = 'muelle.service.version';
/** The scheduler spreads containers with the same value over hosts (see HostUsage.services). */
export const SERVICE_NAME_LABEL = 'muelle.service';
/** An ingress task's backend ports, `containerPort/protocol=hostPort` comma-separated (what other hosts' mesh rules forward to). */
export const SERVICE_BACKENDS_LABEL = 'muelle.service.backends';

const teamFilter = { teamId: z.string().uuid().nullable().optional() };

/** CONFLICT when the team already has a service of that name. */
export const createService = defineRequest(
  'muelle.metadata.services.create.v1',
  z.object({ name: ServiceDnsName, teamId: z.string().uuid().nullable(), ownerId: z.string().uuid(), spec: ServiceSpec }),
  ServiceRecord,
);

/** By id or name (within `teamId` when given). */
export const getService = defineRequest('muelle.metadata.services.get.v1', z.object({ ref: z.string().min(1).max(128), ...teamFilter }), ServiceRecord);

export const listServices = defineRequest('muelle.metadata.services.list.v1', z.object({ ...teamFilter }), z.object({ items: z.array(ServiceRecord) }));

/**
 * Writes a new state only if the record is still at `expectedVersion` and `expectedUpdateState`
 * (optimistic: two api replicas never both apply a decision), and, with `expectedUpdatedAt`, not
 * written at all since (a user's merge of fields that do not bump the version); CONFLICT otherwise.
 * A new `spec` bumps the version.
 */
export const updateService = defineRequest(
  'muelle.metadata.services.update.v1',
  z.object({
    id: z.string().uuid(),
    expectedVersion: z.number().int().min(1),
    expectedUpdateState: UpdateState.optional(),
    expectedUpdatedAt: IsoDate.optional(),
    spec: ServiceSpec.optional(),
    /** False for changes that do not touch what a task runs (replicas, update config): no new version, no rolling update. */
    bumpVersion: z.boolean().default(true),
    previousSpec: ServiceSpec.nullable().optional(),
    updateState: UpdateState.optional(),
    updateMessage: z.string().max(1000).optional(),
    updateFailedTasks: z.array(z.string()).max(1000).optional(),
    restartHistory: z.array(RestartEntry).max(RESTART_HISTORY_MAX).optional(),
  }),
  ServiceRecord,
);

export const deleteService = defineRequest('muelle.metadata.services.delete.v1', z.object({ id: z.string().uuid() }), z.object({ deleted: z.boolean() }));

/**
 * A leader lease in the database: true when `holder` holds `name` for the next `ttlMs` (it was free,
 * expired, or already its own). Loops that must run on one replica at a time take it every round.
 */
export const acquireLease = defineRequest(
  'muelle.metadata.leases.acquire.v1',
  z.object({ name: z.string().regex(/^[a-z0-9.-]{1,64}$/), holder: z.string().min(1).max(128), ttlMs: z.number().int().min(1000).max(600_000) }),
  z.object({ held: z.boolean(), holder: z.string(), expiresAt: IsoDate }),
);

/** One task of a service with ingress ports, as the routing mesh needs it. */
export const MeshTaskRecord = z.object({
  containerId: z.string().regex(/^[0-9a-f]{64}$/),
  hostId: z.string().min(1).max(63).nullable(),
  state: z.string(),
  health: z.enum(['starting', 'healthy', 'unhealthy']).nullable(),
  hasHealthcheck: z.boolean(),
  /** `containerPort/protocol` → the task's backend port on its host. */
  backendPorts: z.record(z.string(), z.number().int().min(1).max(65535)),
});
export type MeshTaskRecord = z.infer<typeof MeshTaskRecord>;

export const MeshRecordReply = z.object({
  /** Every host with an underlay address: where a remote replica's backend port is reached. */
  hosts: z.array(z.object({ id: z.string().min(1).max(63), underlayAddress: z.ipv4() })),
  services: z.array(
    z.object({
      id: z.string().uuid(),
      ports: z.array(z.object({ publishedPort: z.number().int().min(1).max(65535), targetPort: z.number().int().min(1).max(65535), protocol: z.enum(['tcp', 'udp']) })),
      tasks: z.array(MeshTaskRecord),
    }),
  ),
});
export type MeshRecordReply = z.infer<typeof MeshRecordReply>;

/** For every agent's routing mesh: each service's ingress ports and its running tasks (the platform's record). */
export const meshRecord = defineRequest('muelle.metadata.services.mesh.v1', z.object({}), MeshRecordReply);
