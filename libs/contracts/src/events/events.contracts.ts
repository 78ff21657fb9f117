import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate, Labels } from '../common';

/**
 * The platform's event history: every container, image and host event the api publishes is kept
 * in metadata for a bounded time and count, so `docker events --since` and `muelle events --since`
 * replay it before following live ones.
 */

export const PlatformEventType = z.enum(['container', 'image', 'host', 'service']);
export type PlatformEventType = z.infer<typeof PlatformEventType>;

/** Attribute values as the api publishes them (names, image, host, exit code, health…). */
const EventAttributes = z.record(z.string().max(253), z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]));

export const StoredPlatformEvent = z.object({
  type: PlatformEventType,
  /** Docker's action names: `create`, `start`, `die`, `health_status: healthy`, `tag`, `delete`… */
  action: z.string().min(1).max(128),
  /** The object's id: a container id, an image reference or id, a host id. */
  id: z.string().min(1).max(1024),
  /** null: visible to everybody (hosts); else only to that team and admins. */
  teamId: z.string().uuid().nullable(),
  at: IsoDate,
  attributes: EventAttributes,
  /** A container's labels (`label=` filters, and Docker's flat Actor.Attributes). */
  labels: Labels.optional(),
});
export type StoredPlatformEvent = z.infer<typeof StoredPlatformEvent>;

export const recordEvent = defineRequest('muelle.metadata.events.record.v1', StoredPlatformEvent, z.object({ id: z.string().regex(/^[0-9]+$/) }));

/**
 * Events of `[since, until]`, oldest first, at most `limit` (the newest of them when there are
 * more). `teamId` undefined: every team's (admins); a uuid or null: that team's and the events
 * of no team. The finer filters (container, image, event, label) are the api's.
 */
export const listEvents = defineRequest(
  'muelle.metadata.events.list.v1',
  z.object({
    since: IsoDate,
    until: IsoDate,
    teamId: z.string().uuid().nullable().optional(),
    types: z.array(PlatformEventType).max(3).optional(),
    limit: z.number().int().min(1).max(100_000).default(10_000),
  }),
  z.object({ items: z.array(StoredPlatformEvent) }),
);
