import type { Response } from 'express';
import { dockerError } from './errors';

/** Docker's JSON progress stream: one object per line, headers sent at once, errors in-band. */
export class JsonStream {
  constructor(private readonly res: Response) {
    res.status(200);
    res.setHeader('Content-Type', 'application/json');
    res.flushHeaders();
  }

  write(message: Record<string, unknown>): void {
    if (!this.res.writableEnded) this.res.write(`${JSON.stringify(message)}\n`);
  }

  /** Both `error` (old clients) and `errorDetail` (current ones): either fails the command. */
  fail(error: unknown): void {
    const { message } = dockerError(error);
    this.write({ errorDetail: { message }, error: message });
    this.end();
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}

/** `X-Registry-Auth` / `X-Registry-Config`: base64url JSON (padding optional). */
export function decodeRegistryHeader(value: string | string[] | undefined): any {
  if (!value || Array.isArray(value)) return undefined;
  try {
    return JSON.parse(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    // Not base64 JSON: docker ignores such a header too (anonymous).
    return undefined;
  }
}

/** `{username, password}` from a Docker AuthConfig, when it carries them. */
export function loginOf(auth: any): { username: string; password: string } | undefined {
  if (auth && typeof auth.username === 'string' && auth.username && typeof auth.password === 'string') return { username: auth.username, password: auth.password };
  if (auth && typeof auth.identitytoken === 'string' && auth.identitytoken) return { username: '<token>', password: auth.identitytoken };
  return undefined;
}

export const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
