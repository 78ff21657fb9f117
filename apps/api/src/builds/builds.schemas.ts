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
