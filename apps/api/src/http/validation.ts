import { InvalidArgumentError } from '@muelle/contracts';
import { z } from 'zod';

/**
 * Validates a request part (`body`, `query`, `path`) against the same zod schema the OpenAPI document is
 * generated from. The 400 names the first offending field (`body.ports.0.hostPort`) and lists all.
 */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, part: 'body' | 'query' | 'path' = 'body'): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    field: [part, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  const first = issues[0];
  throw new InvalidArgumentError(`${first.field}: ${first.message}`, {
    field: first.field,
    issues,
  });
}

/** Query strings carry `true`/`1`/`false`/`0`; `z.coerce.boolean` would read "false" as true. */
export const queryBool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v === 'true' || v === '1'));

/** `?label=a&label=b` arrives as a string or an array. */
export const queryList = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]));
