import { z } from 'zod';
import { defineEvent, defineRequest } from '../contract';
import { IsoDate, Labels, PageRequest, pageOf } from '../common';

export const HostCapacity = z.object({
  cpus: z.number().positive(),
  memoryBytes: z.number().int().nonnegative(),
  diskBytes: z.number().int().nonnegative(),
  /** Free bytes under the agent's data folder when last measured (registration, heartbeats). */
  diskFreeBytes: z.number().int().nonnegative().optional(),
  /** Fewer than the agent's MUELLE_MIN_FREE_BYTES are free: the scheduler places nothing new here. */
  diskLow: z.boolean().optional(),
});
export type HostCapacity = z.infer<typeof HostCapacity>;

export const HostState = z.enum(['ready', 'down']);
export const HostRecord = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  address: z.string().min(1).max(255),
  capacity: HostCapacity,
  labels: Labels,
  state: HostState,
  cordoned: z.boolean(),
  agentVersion: z.string(),
  registeredAt: IsoDate,
  lastHeartbeatAt: IsoDate,
  /** Why the agent cannot make containers now (cgroups unusable, helper missing…); null when it can. The scheduler skips such hosts. */
  notReady: z.string().min(1).max(1024).nullable(),
  /** The IPv4 address other hosts reach this one on for overlay networks (VXLAN); null: this host takes no part in them. */
  underlayAddress: z.ipv4().nullable().optional(),
});
export type HostRecord = z.infer<typeof HostRecord>;

export const RegisterHostRequest = HostRecord.pick({ id: true, address: true, capacity: true, labels: true, agentVersion: true }).extend({
  notReady: HostRecord.shape.notReady.default(null),
  underlayAddress: z.ipv4().nullable().default(null),
});
export type RegisterHostRequest = z.infer<typeof RegisterHostRequest>;

export const registerHost = defineRequest('muelle.metadata.hosts.register.v1', RegisterHostRequest, HostRecord);
export const listHosts = defineRequest('muelle.metadata.hosts.list.v1', PageRequest, pageOf(HostRecord));
export const getHost = defineRequest('muelle.metadata.hosts.get.v1', z.object({ id: z.string().min(1).max(63) }), HostRecord);

/** Sent by each agent every few seconds; metadata marks a silent host `down`. */
export const hostHeartbeat = defineEvent(
  'muelle.hosts.heartbeat.v1',
  z.object({ id: HostRecord.shape.id, at: IsoDate, capacity: HostCapacity.optional() }),
);
