import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/** JSON and form bodies of the control-plane APIs; large payloads (blobs, build contexts) are streamed, never parsed. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/** A request refused at the edge, before any controller, bus or database sees it. */
export class BadInputError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'BadInputError';
  }
}

/**
 * What PostgreSQL, the bus and the agents cannot take must never get past HTTP:
 * a NUL byte anywhere in the request target, percent-escapes that are not valid UTF-8, JSON bodies
 * over MAX_JSON_BODY_BYTES (413 naming the limit) and NUL bytes in JSON strings or keys. Installed
 * before Nest registers its own body parsers, which it then skips.
 */
export function installInputGuard(app: INestApplication): void {
  app.use(rejectBadRequestTarget);
  const express = app as NestExpressApplication;
  express.useBodyParser('json', { limit: MAX_JSON_BODY_BYTES, reviver: rejectNulInJson });
  express.useBodyParser('urlencoded', { limit: MAX_JSON_BODY_BYTES, extended: true });
}

function rejectBadRequestTarget(req: Request, _res: Response, next: NextFunction): void {
  const problem = problemOfRequestTarget(req.originalUrl ?? req.url);
  next(problem ? new BadInputError(400, problem) : undefined);
}

/** Why a request target (path and query, as received) is refused, or undefined when it is fine. */
export function problemOfRequestTarget(target: string): string | undefined {
  const queryAt = target.indexOf('?');
  const parts: [string, string][] = [
    ['path', queryAt < 0 ? target : target.slice(0, queryAt)],
    ['query', queryAt < 0 ? '' : target.slice(queryAt + 1)],
  ];
  for (const [part, raw] of parts) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part === 'query' ? raw.replace(/\+/g, ' ') : raw);
    } catch {
      // URIError: a stray % or escapes that do not form UTF-8.
      return `the request ${part} has a malformed percent-escape or is not valid UTF-8`;
    }
    if (decoded.includes('\u0000')) return `the request ${part} contains a NUL byte`;
  }
  return undefined;
}

function rejectNulInJson(key: string, value: unknown): unknown {
  if (key.includes('\u0000')) throw new BadInputError(400, 'a JSON key in the body contains a NUL byte (\\u0000)');
  if (typeof value === 'string' && value.includes('\u0000')) throw new BadInputError(400, `body field ${JSON.stringify(key)} contains a NUL byte (\\u0000)`);
  return value;
}
