import { z } from 'zod';
import { InvalidMessageError } from './errors';

/**
 * A request/reply message on the bus. The subject carries the version (`….v1`):
 * a breaking change gets a new subject, so old and new services can run side by side.
 */
export interface RequestContract<Req extends z.ZodType, Rep extends z.ZodType> {
  kind: 'request';
  subject: string;
  request: Req;
  reply: Rep;
  /** How long a caller waits for the reply before a TimeoutError. */
  timeoutMs: number;
}

/** A fire-and-forget notification of a state change. */
export interface EventContract<P extends z.ZodType> {
  kind: 'event';
  subject: string;
  payload: P;
}

export type RequestOf<C> = C extends RequestContract<infer R, z.ZodType> ? z.input<R> : never;
export type ParsedRequestOf<C> = C extends RequestContract<infer R, z.ZodType> ? z.output<R> : never;
export type ReplyOf<C> = C extends RequestContract<z.ZodType, infer R> ? z.output<R> : never;
export type PayloadOf<C> = C extends EventContract<infer P> ? z.output<P> : never;

const SUBJECT = /^muelle\.[a-z0-9-]+(\.[a-z0-9-]+|\.\*|\.>)*\.v[0-9]+$/;

export function defineRequest<Req extends z.ZodType, Rep extends z.ZodType>(
  subject: string,
  request: Req,
  reply: Rep,
  timeoutMs = 5_000,
): RequestContract<Req, Rep> {
  if (!SUBJECT.test(subject)) throw new Error(`bad subject ${subject}`);
  return { kind: 'request', subject, request, reply, timeoutMs };
}

export function defineEvent<P extends z.ZodType>(subject: string, payload: P): EventContract<P> {
  if (!SUBJECT.test(subject)) throw new Error(`bad subject ${subject}`);
  return { kind: 'event', subject, payload };
}

/** Validates a message against a schema; both ends call it, so neither trusts the other. */
export function validateMessage<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  throw new InvalidMessageError(`invalid ${what}: ${first ? `${first.path || '(root)'}: ${first.message}` : 'malformed'}`, { issues });
}
