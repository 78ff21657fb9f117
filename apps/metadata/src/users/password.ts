import { randomBytes, scrypt, timingSafeEqual, createHash } from 'node:crypto';
import { TooManyRequestsError } from '@muelle/contracts';

/**
 * OWASP Password Storage Cheat Sheet (2025): scrypt with N=2^17, r=8, p=1 — 128 MiB and about a
 * quarter second per check here. Stored as `scrypt$N$r$p$salt$hash`, so older (cheaper) hashes
 * still verify and are re-hashed at the next successful login.
 */
export const HASH_PARAMETERS = { N: 2 ** 17, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/**
 * At most this many hashes run at once in this process (each takes a libuv thread and 128 MiB),
 * so a flood of logins cannot stall file and DNS work on the pool; a few more wait their turn,
 * and beyond that a login is refused with 429 instead of queueing without bound.
 */
export const MAX_CONCURRENT_HASHES = 2;
export const MAX_WAITING_HASHES = 32;

class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  get active(): number {
    return this.running;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) throw new TooManyRequestsError('too many logins at once; try again shortly', { retryAfterSeconds: 1 });
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

export const hashSlots = new Semaphore(MAX_CONCURRENT_HASHES, MAX_WAITING_HASHES);

interface Parameters {
  N: number;
  r: number;
  p: number;
}

function derive(password: string, salt: Buffer, { N, r, p }: Parameters): Promise<Buffer> {
  return hashSlots.run(
    () =>
      new Promise((resolve, reject) =>
        // scrypt needs 128·N·r bytes; allow twice that.
        scrypt(password, salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err ? reject(err) : resolve(key))),
      ),
  );
}

/** `parameters`: today's unless given (tests of the flows around hashing pass cheaper ones). */
export async function hashPassword(password: string, parameters: Parameters = HASH_PARAMETERS): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, parameters);
  const { N, r, p } = parameters;
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A stored hash with today's parameters and a random salt: unknown users cost the same as known ones. */
export const DUMMY_HASH = ['scrypt', HASH_PARAMETERS.N, HASH_PARAMETERS.r, HASH_PARAMETERS.p, randomBytes(16).toString('base64url'), randomBytes(32).toString('base64url')].join('$');

function parseStored(stored: string): { parameters: Parameters; salt: Buffer; key: Buffer } | null {
  const [scheme, nText, rText, pText, saltText, keyText] = stored.split('$');
  const parameters = { N: Number(nText), r: Number(rText), p: Number(pText) };
  if (scheme !== 'scrypt' || !saltText || !keyText) return null;
  // Only parameters we could have written: a power of two N up to 2^20, small r and p.
  if (!Number.isInteger(Math.log2(parameters.N)) || parameters.N > 2 ** 20 || !(parameters.r >= 1 && parameters.r <= 32) || !(parameters.p >= 1 && parameters.p <= 4)) return null;
  return { parameters, salt: Buffer.from(saltText, 'base64url'), key: Buffer.from(keyText, 'base64url') };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed) return false;
  const actual = await derive(password, parsed.salt, parsed.parameters);
  return actual.length === parsed.key.length && timingSafeEqual(actual, parsed.key);
}

/** Whether a stored hash was made with weaker parameters than today's (re-hash it at the next login). */
export function needsRehash(stored: string): boolean {
  const parsed = parseStored(stored);
  if (!parsed) return true;
  const { N, r, p } = parsed.parameters;
  return N < HASH_PARAMETERS.N || r < HASH_PARAMETERS.r || p < HASH_PARAMETERS.p;
}

/** API tokens are random; only their SHA-256 is stored, so a database leak reveals none. */
export function newToken(): { token: string; hash: string } {
  const token = `mle_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
