import { ArchivePath, ContainerName, NetworkAlias, ContainerSpec, ContainerState, HealthcheckSpec, HostId, MAX_CONTAINER_NETWORKS, Placement, PortBinding, Resources, RestartPolicy, SecurityOptions, Ulimit, VolumeMount } from '@muelle/contracts';
import { z } from 'zod';
import { queryBool, queryList } from '../http/validation';
import { parseDetachKeys } from './detach-keys';

const NetworkRef = z.string().min(1).max(128);

/**
 * `POST /v1/containers`: a ContainerSpec plus a name; `start: true` is `run`. Strict at every
 * level: a field Muelle does not know (a typo, or an option it does not implement) is a 400 naming
 * it, never silently dropped.
 */
export const CreateContainerBody = ContainerSpec.extend({
  name: ContainerName.optional(),
  start: z.boolean().default(false),
  ports: z.array(PortBinding.strict()).default([]),
  /** A `volume` without a source is a new anonymous volume (`-v /data`); a bind needs one. */
  volumes: z
    .array(
      VolumeMount.extend({ source: VolumeMount.shape.source.optional() })
        .strict()
        .refine((m) => m.kind === 'volume' || m.source !== undefined, { message: 'a bind mount needs a source', path: ['source'] }),
    )
    .default([]),
  resources: Resources.strict().default({}),
  security: SecurityOptions.extend({ ulimits: z.array(Ulimit.strict()).max(32).default([]) })
    .strict()
    .default({ readOnly: false, capAdd: [], capDrop: [], ulimits: [], seccomp: 'default' }),
  restartPolicy: RestartPolicy.strict().default({ name: 'no', maxRetries: 0 }),
  placement: Placement.strict().default({ constraints: {} }),
  healthcheck: HealthcheckSpec.strict().optional(),
  /** The team's networks to join, by name or id (in place of the host's default bridge), with the container's aliases on each. */
  networks: z
    .array(z.union([NetworkRef, z.object({ network: NetworkRef, aliases: z.array(NetworkAlias).max(32).default([]) }).strict()]))
    .max(MAX_CONTAINER_NETWORKS, `a container joins at most ${MAX_CONTAINER_NETWORKS} networks`)
    .refine((list) => new Set(list.map((n) => (typeof n === 'string' ? n : n.network))).size === list.length, 'a network is listed twice')
    .default([]),
}).strict();
export type CreateContainerBody = z.output<typeof CreateContainerBody>;

export const ListContainersQuery = z.object({
  all: queryBool(false),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
  state: queryList.pipe(z.array(ContainerState).optional()),
  host: HostId.optional(),
  /** Admins: one team's containers (team id). Everybody else only ever sees their own team's. */
  team: z.string().uuid('a team id').optional(),
  name: z.string().max(128).optional(),
  label: queryList,
});

export const StopQuery = z.object({
  timeout: z.coerce.number().int().min(0).max(3600).optional(),
  signal: z.string().max(16).optional(),
});
export const KillQuery = z.object({
  signal: z
    .string()
    .regex(/^(SIG)?[A-Z0-9+-]+$|^[0-9]{1,2}$/, 'a signal like SIGTERM')
    .default('SIGKILL'),
});
export const PruneQuery = z.object({ label: queryList.pipe(z.array(z.string().min(1).max(512)).default([])) });
export const RenameQuery = z.object({ name: ContainerName });
/** `volumes` (`rm -v`): the container's anonymous volumes go with it. */
export const RemoveQuery = z.object({ force: queryBool(false), volumes: queryBool(false) });
export const WaitQuery = z.object({
  condition: z.enum(['not-running', 'next-exit']).default('not-running'),
});

export const LogsQuery = z.object({
  follow: queryBool(false),
  tail: z.coerce.number().int().min(0).optional(),
  timestamps: queryBool(false),
  stdout: queryBool(true),
  stderr: queryBool(true),
  since: z.string().datetime({ offset: true }).optional(),
  until: z.string().datetime({ offset: true }).optional(),
});
export type LogsQuery = z.output<typeof LogsQuery>;

export const StatsQuery = z.object({ stream: queryBool(false) });

export const ExecBody = z.object({
  cmd: z.array(z.string()).min(1),
  env: z.array(z.string().regex(/^[^=]+=/, 'KEY=value')).default([]),
  user: z.string().max(256).optional(),
  workingDir: z.string().startsWith('/').optional(),
  tty: z.boolean().default(false),
  stdin: z.boolean().default(false),
  /** Docker's `DetachKeys` (`ctrl-p,ctrl-q` style), watched when the exec starts with a tty and stdin; empty: Docker's default. Bad keys are refused here, at create, as dockerd does. */
  detachKeys: z
    .string()
    .max(128)
    .default('')
    .superRefine((keys, ctx) => {
      if (!keys) return;
      try {
        parseDetachKeys(keys);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^detachKeys: /, '') });
      }
    }),
});
export type ExecBody = z.output<typeof ExecBody>;

export const TerminalSizeQuery = z.object({
  rows: z.coerce.number().int().min(1).max(65535).optional(),
  cols: z.coerce.number().int().min(1).max(65535).optional(),
});

/** `docker cp`: a path inside the container. */
export const ArchiveQuery = z.object({ path: ArchivePath });
/** `docker cp` into a container: the destination directory; Docker's defaults (the CLI sends noOverwriteDirNonDir=true). */
export const PutArchiveQuery = z.object({ path: ArchivePath, noOverwriteDirNonDir: queryBool(false), copyUIDGID: queryBool(false) });
