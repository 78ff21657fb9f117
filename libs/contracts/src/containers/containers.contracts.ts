import { z } from 'zod';
import { defineEvent, defineRequest } from '../contract';
import { IsoDate, pageOf } from '../common';
import { ContainerId, ContainerName, ContainerRecord, ContainerSpec, ContainerState, HealthStatus, HostId } from './container.schemas';

/** A counter metadata bumps with every placement; a decision names the one it was taken at. */
export const PlacementGeneration = z.number().int().nonnegative();

/** Records a new container, already placed on a host. CONFLICT when the name is taken. */
export const recordContainer = defineRequest(
  'muelle.metadata.containers.create.v1',
  z.object({
    id: ContainerId,
    name: ContainerName.optional(),
    teamId: z.string().uuid().nullable().default(null),
    hostId: HostId,
    spec: ContainerSpec,
    /** The `placementGeneration` of the usage the host was chosen from: recorded only if nothing was placed since (else CONFLICT, `details.stalePlacement`). */
    placementGeneration: PlacementGeneration.optional(),
  }),
  ContainerRecord,
);

/** By full id, unique id prefix (≥ 3 characters) or name, like docker. */
export const getContainer = defineRequest(
  'muelle.metadata.containers.get.v1',
  z.object({ ref: z.string().min(1).max(128), teamId: z.string().uuid().nullable().optional() }),
  ContainerRecord,
);

export const ContainerFilters = z.object({
  state: z.array(ContainerState).optional(),
  hostId: HostId.optional(),
  name: z.string().max(128).optional(),
  /** `key` or `key=value` */
  label: z.array(z.string().max(512)).optional(),
});

export const listContainers = defineRequest(
  'muelle.metadata.containers.list.v1',
  z.object({
    /** Without `all`, only running (and restarting) containers, like `docker ps`. */
    all: z.boolean().default(false),
    limit: z.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional(),
    teamId: z.string().uuid().nullable().optional(),
    filters: ContainerFilters.default({}),
  }),
  pageOf(ContainerRecord),
);

/** `docker rename`: a new name for a container (CONFLICT when another container has it). */
export const renameContainer = defineRequest('muelle.metadata.containers.rename.v1', z.object({ id: ContainerId, name: ContainerName }), ContainerRecord);

export const deleteContainerRecord = defineRequest('muelle.metadata.containers.delete.v1', z.object({ id: ContainerId }), z.object({ deleted: z.boolean() }));

/** Moves a container to another host (rescheduling after a host went down or was drained). */
export const reassignContainer = defineRequest(
  'muelle.metadata.containers.reassign.v1',
  z.object({
    id: ContainerId,
    hostId: HostId,
    /** Moved only if it is still on this host (two replicas' reconcilers must not both move it). */
    fromHostId: HostId.optional(),
    /** As in `recordContainer`. */
    placementGeneration: PlacementGeneration.optional(),
  }),
  ContainerRecord,
);

/**
 * Several moves at one placement generation, in one transaction (an evacuation pass): the
 * generation is checked and bumped once; a container no longer on its `fromHostId` (another
 * replica moved it, or it was removed) is left as it is and listed in `skipped`.
 */
export const reassignContainers = defineRequest(
  'muelle.metadata.containers.reassign-many.v1',
  z.object({
    moves: z.array(z.object({ id: ContainerId, hostId: HostId, fromHostId: HostId })).min(1).max(1000),
    placementGeneration: PlacementGeneration,
  }),
  z.object({ moved: z.array(ContainerId), skipped: z.array(ContainerId) }),
);

/** What the scheduler needs per host: what is already reserved there. */
export const HostUsage = z.object({
  hostId: HostId,
  containers: z.number().int(),
  reservedMemoryBytes: z.number().int(),
  reservedCpus: z.number(),
  /** `ip:port/proto` taken by published ports. */
  usedPorts: z.array(z.string()),
  /** count of live containers per `muelle.service` label value, for spreading replicas. */
  services: z.record(z.string(), z.number().int()),
});
export type HostUsage = z.infer<typeof HostUsage>;
/** `placementGeneration`: read before the usage, so a placement recorded meanwhile makes it stale, never the reverse. */
export const hostUsage = defineRequest('muelle.metadata.hosts.usage.v1', z.object({}), z.object({ hosts: z.array(HostUsage), placementGeneration: PlacementGeneration }));

/** Every state change on an agent; metadata records it (the last one by `at` wins). */
export const containerStateChanged = defineEvent(
  'muelle.containers.state-changed.v1',
  z.object({
    id: ContainerId,
    hostId: HostId,
    state: ContainerState,
    exitCode: z.number().int().nullable().optional(),
    oomKilled: z.boolean().optional(),
    restartCount: z.number().int().optional(),
    imageDigest: z.string().optional(),
    /** With `running`: when the container started; with `exited`: when it ended (its helper's clock). */
    startedAt: IsoDate.optional(),
    finishedAt: IsoDate.optional(),
    at: IsoDate,
  }),
);
export type ContainerStateChange = z.infer<typeof containerStateChanged.payload>;

/** A container's health changed (`starting` at each start with a check, then `healthy`/`unhealthy`); metadata records the newest by `at`. */
export const containerHealthChanged = defineEvent(
  'muelle.containers.health-changed.v1',
  z.object({
    id: ContainerId,
    hostId: HostId,
    status: HealthStatus,
    failingStreak: z.number().int().min(0),
    at: IsoDate,
  }),
);
export type ContainerHealthChange = z.infer<typeof containerHealthChanged.payload>;
