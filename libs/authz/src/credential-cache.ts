import type { AuthenticatedPrincipal } from '@muelle/contracts';
import { createHmac, randomBytes } from 'node:crypto';

/** Who a cached credential belongs to, so it can be forgotten when that user or token changes. */
export interface CredentialOwner {
  userId?: string;
  tokenId?: string;
  /** Epoch ms after which the credential is invalid anyway (an expiring token). */
  expiresAt?: number;
}

/** A principal's cache owner: its user (all of that user's credentials) and the token it came from. */
export const ownerOfPrincipal = (p: AuthenticatedPrincipal): CredentialOwner => ({
  userId: p.kind === 'robot' ? undefined : p.user.id,
  tokenId: p.tokenId,
  ...(p.expiresAt ? { expiresAt: Date.parse(p.expiresAt) } : {}),
});

/** How long the api and the registry remember a verified credential when no revocation event comes. */
export const CREDENTIAL_CACHE_MS = 10_000;

interface Entry<T> {
  check: Promise<T>;
  until: number;
  owner?: CredentialOwner;
}

/**
 * Remembers credentials that passed a (slow, scrypt) check for a few seconds, so `docker login`,
 * CI jobs and the CLI do not pay a password hash per request. Keys are an HMAC of the credential
 * under a random per-process key, so the map never holds a password or a value that could be
 * tested offline. Concurrent checks of one credential share one verification; failures are not
 * remembered. `forget` drops a user's or token's entries at once (revocation events).
 */
export class CredentialCache<T> {
  private readonly hmacKey = randomBytes(32);
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly ownerOf: (value: T) => CredentialOwner,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached result for this credential, else `verify()`'s (cached when it succeeds). */
  async get(credential: readonly string[], verify: () => Promise<T>): Promise<T> {
    const key = this.keyOf(credential);
    const now = Date.now();
    let entry = this.entries.get(key);
    if (!entry || entry.until < now) {
      if (this.entries.size >= this.maxEntries) this.evictExpired(now);
      const created: Entry<T> = { check: verify(), until: now + this.ttlMs };
      entry = created;
      this.entries.set(key, created);
      created.check.then(
        (value) => {
          created.owner = this.ownerOf(value);
          if (created.owner.expiresAt !== undefined) created.until = Math.min(created.until, created.owner.expiresAt);
        },
        () => this.entries.get(key) === created && this.entries.delete(key),
      );
    }
    return entry.check;
  }

  /** Drops every entry of this user or token, and every check still in flight (it may predate the change). */
  forget(owner: CredentialOwner): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      const matches = !entry.owner || (owner.userId && entry.owner.userId === owner.userId) || (owner.tokenId && entry.owner.tokenId === owner.tokenId);
      if (matches) {
        this.entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.entries.clear();
  }

  private keyOf(credential: readonly string[]): string {
    const hmac = createHmac('sha256', this.hmacKey);
    for (const part of credential) hmac.update(`${part.length}:${part}`);
    return hmac.digest('base64url');
  }

  private evictExpired(now: number): void {
    for (const [key, entry] of this.entries) if (entry.until < now) this.entries.delete(key);
    // Still full of live entries (a flood of distinct valid credentials): start over rather than grow.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
  }
}
