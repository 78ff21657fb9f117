import { z } from 'zod';

export const ServiceName = z.enum(['api', 'registry', 'builder', 'agent', 'metadata']);
export type ServiceName = z.infer<typeof ServiceName>;

/** Opaque keyset cursor pagination, the same shape for every list. */
export const PageRequest = z.object({
  limit: z.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const Labels = z.record(z.string().max(253), z.string().max(1024));
export const IsoDate = z.string().datetime({ offset: true });
