import { PermissionDeniedError } from '@muelle/contracts';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The console's session: an ordinary `mle_` API token (made at sign-in with the session's
 * lifetime) carried in an HttpOnly, SameSite=Strict cookie instead of an Authorization header,
 * so it passes the same Authenticator, scopes and decide() as any token, and revoking it (sign
 * out, a disabled user) ends the session on every replica.
 */
export const SESSION_COOKIE = 'muelle_session';
export const CSRF_HEADER = 'x-muelle-csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The CSRF token of a session: a one-way digest of its secret, so any replica can check it
 * without storing anything, and a page that reads it (it is given to the console's script)
 * cannot turn it back into the session.
 */
export const csrfTokenOf = (sessionToken: string) => createHash('sha256').update(`muelle-csrf\0${sessionToken}`).digest('base64url');

/**
 * The Authorization header a request authenticates with: its own, or the session cookie's token
 * as a bearer. A cookie-borne request that changes state (and every terminal upgrade) must also
 * prove it comes from the console's own script with the session's CSRF token (header, or `csrf`
 * in the query of a WebSocket upgrade, where browsers cannot set headers); SameSite=Strict and the
 * Origin check already keep other sites' requests out, this holds even where those do not apply.
 */
export function credentialOf(method: string, headers: IncomingHttpHeaders, query?: URLSearchParams, upgrade = false): string | undefined {
  if (headers.authorization) return headers.authorization;
  const session = sessionTokenOf(headers.cookie);
  if (!session) return undefined;
  if (upgrade || !SAFE_METHODS.has(method.toUpperCase())) {
    const sent = single(headers[CSRF_HEADER]) ?? query?.get('csrf') ?? '';
    if (!sameText(sent, csrfTokenOf(session))) {
      throw new PermissionDeniedError(`a request with the console's session cookie must carry its CSRF token (${CSRF_HEADER} header)`, { rule: 'csrf' });
    }
  }
  return `Bearer ${session}`;
}

/** The session token in a Cookie header, if any (the last one wins, as in browsers' own parsing order). */
export function sessionTokenOf(cookieHeader: string | undefined): string | undefined {
  let found: string | undefined;
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) found = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return found || undefined;
}

/** `Set-Cookie` for a new session; `Secure` whenever the api serves HTTPS. */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export const clearedSessionCookie = (secure: boolean) => `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
