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

/**
 * A PATCH body of `schema`: every field optional and without its default. zod 4's `.partial()`
 * still fills defaults in, so a PATCH naming only `command` came back with `replicas: 1` and
 * `ports: []`, and a service update reset what it did not name (issue 17: one task left of three).
 */
export function patchOf<Shape extends z.ZodRawShape>(schema: z.ZodObject<Shape>) {
  const fields = Object.fromEntries(
    Object.entries(schema.shape).map(([key, field]) => [key, (field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : (field as z.ZodType)).optional()]),
  );
  return z.object(fields as { [K in keyof Shape]: z.ZodOptional<z.ZodType<z.output<Shape[K]>, z.input<Shape[K]>>> }).strict();
}

