import { z } from 'zod';

/** An IPv4 subnet `a.b.c.d/n`. */
export const Cidr = z
  .string()
  .max(18)
  .refine((value) => cidrRange(value) !== undefined, 'must be an IPv4 subnet a.b.c.d/n (n 1..32)');

/** First and last address of an IPv4 CIDR as 32-bit numbers; undefined when it is not one. */
export function cidrRange(cidr: string): { first: number; last: number; prefix: number } | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) return undefined;
  const [a, b, c, d, prefix] = match.slice(1).map(Number) as [number, number, number, number, number];
  if ([a, b, c, d].some((octet) => octet > 255) || prefix < 1 || prefix > 32) return undefined;
  const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  const first = ((((a << 24) | (b << 16) | (c << 8) | d) >>> 0) & mask) >>> 0;
  return { first, last: (first + 2 ** (32 - prefix) - 1) >>> 0, prefix };
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = cidrRange(a);
  const y = cidrRange(b);
  return x !== undefined && y !== undefined && x.first <= y.last && y.first <= x.last;
}
