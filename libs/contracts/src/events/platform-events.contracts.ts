import { z } from 'zod';
import { defineEvent } from '../contract';
import { IsoDate, Labels } from '../common';

/** One line of `GET /v1/events` and `docker events`: what happened to which object, for which team. */
export const PlatformEvent = z.object({
  type: z.enum(['container', 'image', 'host', 'service']),
  action: z.string().min(1).max(200),
  id: z.string().min(1).max(512),
  /** null: visible to everybody (hosts); else only to that team and admins. */
  teamId: z.string().uuid().nullable(),
  at: IsoDate,
  attributes: z.record(z.string(), z.unknown()),
  /** A container's labels (`label=` filters). */
  labels: Labels.optional(),
});
export type PlatformEvent = z.infer<typeof PlatformEvent>;

/**
 * An api replica saw something happen (a request it served, or an agent's report its queue group
 * gave it): every replica receives it and hands it to its own event subscribers.
 */
export const platformEventPublished = defineEvent('muelle.api.events.published.v1', PlatformEvent);
