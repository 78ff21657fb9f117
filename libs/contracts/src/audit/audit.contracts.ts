import { z } from 'zod';
import { defineRequest } from '../contract';
import { IsoDate } from '../common';

/** One change somebody made: who, what, to which object, when. */
export const AuditEntry = z.object({
  id: z.string().regex(/^[0-9]+$/),
  at: IsoDate,
  /** Username (or `system` for the reconciler). */
  actor: z.string().min(1).max(128),
  /** Dotted verb, e.g. `container.create`, `image.tag`, `host.cordon`. */
  action: z.string().regex(/^[a-z]+(\.[a-z-]+)+$/, 'a dotted verb like container.create'),
  /** What it was done to: `container:<id>`, `image:<ref>`, `host:<id>`. */
  target: z.string().min(1).max(1024),
  details: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const recordAudit = defineRequest(
  'muelle.metadata.audit.record.v1',
  AuditEntry.pick({ actor: true, action: true, target: true }).extend({
    details: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({ id: AuditEntry.shape.id }),
);

/** Newest first; `cursor` is the last id seen. */
export const listAudit = defineRequest(
  'muelle.metadata.audit.list.v1',
  z.object({
    limit: z.number().int().min(1).max(1000).default(100),
    cursor: z
      .string()
      .regex(/^[0-9]+$/)
      .optional(),
    actor: z.string().max(128).optional(),
    action: z.string().max(128).optional(),
    target: z.string().max(1024).optional(),
  }),
  z.object({ items: z.array(AuditEntry), nextCursor: z.string().nullable() }),
);
