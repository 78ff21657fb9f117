import type { Scope } from '@muelle/authz';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** One granted resource of a registry token (distribution `jwt.md` "access" claim). */
export interface AccessEntry {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

/** Who the token was issued to, as the authorization model knows them (absent: anonymous). */
export interface TokenSubject {
  id: string;
  /** A team's robot token or a person (absent in tokens issued before robots existed). */
  kind?: 'user' | 'robot';
  role: 'admin' | 'member' | 'viewer';
  teamId: string | null;
  teamName: string | null;
  /** A scoped or robot token's scopes: the catalog listing is narrowed by them too. */
  scopes?: readonly Scope[];
}

export interface TokenClaims {
  iss: string;
  /** Username; empty for an anonymous token. */
  sub: string;
  /** Private claim: the subject's role and team, so `/v2/_catalog` and audit lines need no lookup. */
  muelle?: TokenSubject;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: AccessEntry[];
}

export class TokenInvalidError extends Error {
  constructor(reason: string) {
    super(`invalid token: ${reason}`);
    this.name = 'TokenInvalidError';
  }
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** HS256 JWT (RFC 7519) with node's crypto: header.payload.signature, base64url. */
export function signToken(claims: Omit<TokenClaims, 'jti'> & { jti?: string }, key: Buffer): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ ...claims, jti: claims.jti ?? randomUUID() }));
  const signature = createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Verifies signature, algorithm, audience and time window; returns the claims. */
export function verifyToken(token: string, key: Buffer, audience: string, nowSeconds = Math.floor(Date.now() / 1000)): TokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenInvalidError('malformed');
  const [header, payload, signature] = parts;
  let parsedHeader: { alg?: string };
  let claims: TokenClaims;
  try {
    parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new TokenInvalidError('malformed');
  }
  // The algorithm is fixed: a token cannot choose "none" or another key type.
  if (parsedHeader.alg !== 'HS256') throw new TokenInvalidError('unsupported algorithm');
  const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new TokenInvalidError('bad signature');
  if (claims.aud !== audience) throw new TokenInvalidError('wrong audience');
  // A little clock skew between replicas is tolerated.
  if (typeof claims.exp !== 'number' || claims.exp < nowSeconds - 5) throw new TokenInvalidError('expired');
  if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds + 30) throw new TokenInvalidError('not yet valid');
  if (!Array.isArray(claims.access)) throw new TokenInvalidError('no access claim');
  return claims;
}
