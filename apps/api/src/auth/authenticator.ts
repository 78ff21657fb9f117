import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { authenticateToken, authenticateUser, getPrincipal, Principal, UnauthenticatedError, UserRecord } from '@muelle/contracts';
import { createHash } from 'node:crypto';
import { RequestPrincipal } from './principal';

const PRINCIPAL_CACHE_MS = 10_000;
/**
 * Successful credential checks are remembered this long, keyed by a hash of the header: password
 * checks are deliberately slow (scrypt) and clients send the same header on every request. A
 * revoked token or changed password stops working within this window.
 */
const CREDENTIAL_CACHE_MS = 10_000;
const CACHE_MAX = 10_000;

interface Verified {
  user: UserRecord;
  password: string;
}

/**
 * Turns an Authorization header into a principal: `Bearer <mle_ token>` or Basic user:password,
 * both checked by metadata; the team comes from metadata too (cached briefly: it rarely changes).
 */
@Injectable()
export class Authenticator {
  private readonly principals = new Map<string, { principal: Principal; until: number }>();
  /** Checks in flight or recently passed; concurrent requests with one header share one check. */
  private readonly verified = new Map<string, { check: Promise<Verified>; until: number }>();

  constructor(private readonly bus: BusClient) {}

  async authenticate(header: string | undefined): Promise<RequestPrincipal> {
    if (!header) throw new UnauthenticatedError('send a bearer token or basic credentials');
    const key = createHash('sha256').update(header).digest('hex');
    let entry = this.verified.get(key);
    if (!entry || entry.until < Date.now()) {
      if (this.verified.size >= CACHE_MAX) this.verified.clear();
      const check = this.verify(header);
      entry = { check, until: Date.now() + CREDENTIAL_CACHE_MS };
      this.verified.set(key, entry);
      // Failures are not remembered: a typo must not lock the header out.
      check.catch(() => this.verified.get(key)?.check === check && this.verified.delete(key));
    }
    const { user, password } = await entry.check;
    const principal = await this.principalOf(user.id);
    return { ...principal, user, registryCredentials: { username: user.username, password } };
  }

  async principalOf(userId: string): Promise<Principal> {
    const cached = this.principals.get(userId);
    if (cached && cached.until > Date.now()) return cached.principal;
    const principal = await this.bus.request(getPrincipal, { userId });
    if (this.principals.size >= CACHE_MAX) this.principals.clear();
    this.principals.set(userId, { principal, until: Date.now() + PRINCIPAL_CACHE_MS });
    return principal;
  }

  private async verify(header: string): Promise<Verified> {
    const [scheme, value] = header.split(' ', 2);
    if (scheme?.toLowerCase() === 'bearer' && value) {
      const token = value.trim();
      return { user: await this.bus.request(authenticateToken, { token }), password: token };
    }
    if (scheme?.toLowerCase() === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new UnauthenticatedError('malformed basic credentials');
      const password = decoded.slice(colon + 1);
      return { user: await this.bus.request(authenticateUser, { username: decoded.slice(0, colon), password }), password };
    }
    throw new UnauthenticatedError('send a bearer token or basic credentials');
  }
}
