import { z } from 'zod';
import { IsoDate } from '../common';
import { defineRequest } from '../contract';
import { CapabilityName } from '../containers/container.schemas';
import { TeamName } from './teams.contracts';

/**
 * Team policies and quotas: admin decisions about what a team's members may ask of a host and how
 * much they may reserve. See SECURITY.md §3 and §4.
 */

/** An absolute, normalised host path (no `.`/`..` segments, no trailing slash except `/`). */
export const HostPathPrefix = z
  .string()
  .max(4096)
  .refine((p) => p.startsWith('/') && (p === '/' || (!p.endsWith('/') && p.split('/').slice(1).every((s) => s !== '' && s !== '.' && s !== '..'))), {
    message: 'an absolute, normalised path such as /srv/data (no trailing slash, no . or ..)',
  });

export const BindMountGrant = z.strictObject({
  path: HostPathPrefix,
  /** true: only `:ro` binds under this prefix are allowed. */
  readOnly: z.boolean().default(true),
});
export type BindMountGrant = z.infer<typeof BindMountGrant>;

/** What an admin lets a team's members do beyond the default isolation. Everything is off by default. */
export const TeamPolicy = z.strictObject({
  /** Host paths members may bind-mount (a bind is allowed when its source is the prefix or below it). */
  bindMounts: z.array(BindMountGrant).max(64).default([]),
  /** `--network host`. */
  hostNetwork: z.boolean().default(false),
  /** Publishing on a chosen host IP (`-p 127.0.0.1:8080:80`); the default is every address. */
  publishHostIp: z.boolean().default(false),
  /** Publishing on host ports 1–1023. */
  privilegedPorts: z.boolean().default(false),
  /** Capabilities members may add with `--cap-add` (`ALL` is never grantable). */
  capAdd: z
    .array(CapabilityName)
    .max(64)
    .default([])
    .refine((caps) => !caps.includes('ALL'), { message: 'ALL cannot be granted; name each capability' }),
  /** `--security-opt seccomp=unconfined`. */
  seccompUnconfined: z.boolean().default(false),
  /** `--ulimit rtprio=N` above 0: real-time scheduling, which can starve the host's CPUs. */
  realtimePriority: z.boolean().default(false),
});
export type TeamPolicy = z.infer<typeof TeamPolicy>;
export type TeamPolicyInput = z.input<typeof TeamPolicy>;
export const EMPTY_TEAM_POLICY: TeamPolicy = Object.freeze({
  bindMounts: [],
  hostNetwork: false,
  publishHostIp: false,
  privilegedPorts: false,
  capAdd: [],
  seccompUnconfined: false,
  realtimePriority: false,
}) as TeamPolicy;

/** Limits per team; null means unlimited. */
export const TeamQuota = z.strictObject({
  /** Containers holding a reservation (created, running, paused, restarting). */
  containers: z.number().int().min(0).nullable().default(null),
  /** Sum of the containers' `--memory`. */
  memoryBytes: z.number().int().min(0).nullable().default(null),
  /** Sum of the containers' `--cpus`. */
  cpus: z.number().min(0).max(1_000_000).nullable().default(null),
  /** Bytes of distinct blobs in the team's repositories. */
  registryBytes: z.number().int().min(0).nullable().default(null),
});
export type TeamQuota = z.infer<typeof TeamQuota>;
export const UNLIMITED_QUOTA: TeamQuota = Object.freeze({ containers: null, memoryBytes: null, cpus: null, registryBytes: null }) as TeamQuota;

/** What a team uses now, in the quota's units. */
export const TeamUsage = z.object({
  containers: z.number().int(),
  memoryBytes: z.number().int(),
  cpus: z.number(),
  registryBytes: z.number().int(),
});
export type TeamUsage = z.infer<typeof TeamUsage>;

const TeamRef = z.object({ team: z.string().min(1).max(64) });

export const TeamPolicyRecord = z.object({
  teamId: z.string().uuid(),
  teamName: TeamName,
  policy: TeamPolicy,
  updatedAt: IsoDate.nullable(),
});
export type TeamPolicyRecord = z.infer<typeof TeamPolicyRecord>;

export const TeamQuotaRecord = z.object({
  teamId: z.string().uuid(),
  teamName: TeamName,
  quota: TeamQuota,
  usage: TeamUsage,
  updatedAt: IsoDate.nullable(),
});
export type TeamQuotaRecord = z.infer<typeof TeamQuotaRecord>;

/** `team` is a team name or id; NOT_FOUND for an unknown team. A team without a policy gets the empty one. */
export const getTeamPolicy = defineRequest('muelle.metadata.teams.policy.get.v1', TeamRef, TeamPolicyRecord);
export const setTeamPolicy = defineRequest('muelle.metadata.teams.policy.set.v1', TeamRef.extend({ policy: TeamPolicy }), TeamPolicyRecord);
export const getTeamQuota = defineRequest('muelle.metadata.teams.quota.get.v1', TeamRef, TeamQuotaRecord);
export const setTeamQuota = defineRequest('muelle.metadata.teams.quota.set.v1', TeamRef.extend({ quota: TeamQuota }), TeamQuotaRecord);

/**
 * Before starting a stopped container: PERMISSION_DENIED naming the quota when it would take the
 * team over its quota (the container is not holding a reservation while it is stopped).
 */
export const admitContainerStart = defineRequest('muelle.metadata.teams.quota.admit-start.v1', z.object({ id: z.string().regex(/^[a-f0-9]{64}$/) }), z.object({ admitted: z.literal(true) }));
