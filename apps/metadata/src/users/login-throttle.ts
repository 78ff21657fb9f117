import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { TooManyRequestsError } from '@muelle/contracts';
import { isIPv6 } from 'node:net';
import { DataSource } from 'typeorm';

/**
 * Login throttling, shared by every replica through one table (SECURITY.md § 5 has the design):
 * - per (account, address): 10 failures in a minute block that pair — for 1 minute, then 2, 4, …
 *   up to 15 (the back-off), answered with 429 and Retry-After without checking the password;
 * - per address: 30 failures a minute over any accounts block the address (password spraying);
 * - per account: over 10 failures a minute from all addresses put the account on guard, and
 *   then each address gets only 3 tries a minute on it (guessing spread over many addresses).
 * No counter blocks an account for everybody: a correct password from an address that has not
 * been failing always gets checked, so an attacker cannot lock a victim out.
 */
export const LIMITS = {
  windowSeconds: 60,
  pairFailures: 10,
  guardedPairFailures: 3,
  accountGuardFailures: 10,
  addressFailures: 30,
  firstBlockSeconds: 60,
  maxBlockSeconds: 15 * 60,
  /** A counter quiet this long starts again from its first back-off step. */
  forgiveAfterSeconds: 3600,
} as const;

/** IPv4-mapped addresses as IPv4; IPv6 by its /64 (one host usually owns a whole /64). */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head, tail = ''] = address.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

const keys = (account: string, address: string) => ({ pair: `pair:${account}|${address}`, address: `addr:${address}`, account: `acct:${account}` });

@Injectable()
export class LoginThrottle implements OnModuleInit, OnModuleDestroy {
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly db: DataSource) {}

  onModuleInit(): void {
    // Old counters are dead weight: sweep them now and then (a lost sweep only leaves rows a while).
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), 10 * 60_000);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** Throws TOO_MANY_REQUESTS while this account is blocked for this address, or the address is. */
  async check(account: string, clientAddress: string | undefined): Promise<void> {
    const k = keys(account, normalizeAddress(clientAddress));
    const rows: Array<{ key: string; wait: number | string }> = await this.db.query(
      `SELECT key, ceil(extract(epoch FROM blocked_until - now())) AS wait FROM login_throttle WHERE key = ANY($1) AND blocked_until > now()`,
      [[k.pair, k.address]],
    );
    if (!rows.length) return;
    const wait = Math.max(...rows.map((r) => Number(r.wait)));
    const which = rows.some((r) => r.key === k.pair) ? `for "${account}" from this address` : 'from this address';
    throw new TooManyRequestsError(`too many failed logins ${which}; try again in ${wait} s`, { retryAfterSeconds: Math.max(1, wait) });
  }

  async recordFailure(account: string, clientAddress: string | undefined): Promise<void> {
    const k = keys(account, normalizeAddress(clientAddress));
    const accountFailures = await this.count(k.account);
    await this.countAndMaybeBlock(k.address, LIMITS.addressFailures);
    await this.countAndMaybeBlock(k.pair, accountFailures > LIMITS.accountGuardFailures ? LIMITS.guardedPairFailures : LIMITS.pairFailures);
  }

  /** A correct password clears this pair's failures (not the address's or the account's: those are someone else's). */
  async recordSuccess(account: string, clientAddress: string | undefined): Promise<void> {
    await this.db.query(`DELETE FROM login_throttle WHERE key = $1`, [keys(account, normalizeAddress(clientAddress)).pair]);
  }

  async sweep(): Promise<void> {
    await this.db.query(`DELETE FROM login_throttle WHERE updated_at < now() - make_interval(secs => $1) AND (blocked_until IS NULL OR blocked_until < now())`, [
      LIMITS.forgiveAfterSeconds,
    ]);
  }

  /** One more failure in this key's window (a new window when the last one is over); returns the count. */
  private async count(key: string): Promise<number> {
    const rows: Array<{ failures: number }> = await this.db.query(
      `INSERT INTO login_throttle AS t (key, failures, window_started_at, blocked_until, strikes, updated_at)
       VALUES ($1, 1, now(), NULL, 0, now())
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.window_started_at < now() - make_interval(secs => $2) THEN 1 ELSE t.failures + 1 END,
         window_started_at = CASE WHEN t.window_started_at < now() - make_interval(secs => $2) THEN now() ELSE t.window_started_at END,
         strikes = CASE WHEN t.updated_at < now() - make_interval(secs => $3) THEN 0 ELSE t.strikes END,
         updated_at = now()
       RETURNING failures`,
      [key, LIMITS.windowSeconds, LIMITS.forgiveAfterSeconds],
    );
    return Number(rows[0].failures);
  }

  private async countAndMaybeBlock(key: string, limit: number): Promise<void> {
    if ((await this.count(key)) < limit) return;
    // Only one replica's update applies (the condition), so a block is counted once.
    await this.db.query(
      `UPDATE login_throttle SET
         blocked_until = now() + make_interval(secs => LEAST($2 * power(2, strikes), $3)),
         strikes = strikes + 1, failures = 0, window_started_at = now(), updated_at = now()
       WHERE key = $1 AND failures >= $4`,
      [key, LIMITS.firstBlockSeconds, LIMITS.maxBlockSeconds, limit],
    );
  }
}
