import { z } from 'zod';
import { queryBool, queryList } from '../http/validation';

/** `POST /v1/builds?t=…&dockerfile=…` with the context tar (plain or gzip) as the body. */
export const BuildQuery = z.object({
  t: queryList.pipe(z.array(z.string().min(1).max(512)).max(32).default([])),
  dockerfile: z.string().min(1).max(1024).default('Dockerfile'),
  target: z.string().min(1).max(128).optional(),
  /** `KEY=value`, repeatable. */
  buildarg: queryList.pipe(z.array(z.string().regex(/^[^=]+=/, 'KEY=value')).default([])),
  nocache: queryBool(false),
});
export type BuildQuery = z.output<typeof BuildQuery>;

/** `GET /v1/builds`: newest first, `cursor` from the previous page's `nextCursor`. */
export const ListBuildsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});

/** `POST /v1/builds/cache/prune`: `until` is a Go duration (`24h`): only entries unused that long. */
export const PruneBuildCacheBody = z
  .object({
    all: z.boolean().default(false),
    keepStorage: z.number().int().nonnegative().default(0),
    until: z.string().min(1).max(64).optional(),
  })
  .strict();
