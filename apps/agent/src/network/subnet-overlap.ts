import { runHostCommand } from '@muelle/isolation';

export interface HostNetworkEntry {
  /** `a.b.c.d/n` */
  cidr: string;
  /** The interface it lives on. */
  dev: string;
  kind: 'route' | 'address';
}

/**
 * The first route or interface address of the host, on another interface than our bridge, whose
 * range overlaps `subnet` — containers would shadow it or be shadowed by it. The default route is
 * not a conflict (it covers everything by design).
 */
export function findSubnetOverlap(subnet: string, bridge: string, entries: HostNetworkEntry[]): HostNetworkEntry | undefined {
  const ours = rangeOf(subnet);
  return entries.find((entry) => {
    if (entry.dev === bridge || entry.cidr === '0.0.0.0/0') return false;
    const theirs = rangeOf(entry.cidr);
    return theirs !== undefined && ours !== undefined && theirs.first <= ours.last && ours.first <= theirs.last;
  });
}

/** Reads the host's IPv4 routes (main table) and interface addresses with `ip -o -4`. */
export async function hostNetworkEntries(): Promise<HostNetworkEntry[]> {
  const entries: HostNetworkEntry[] = [];
  for (const line of (await runHostCommand('ip', ['-o', '-4', 'route', 'show'])).split('\n')) {
    const match = /^(\S+)\s.*\bdev (\S+)/.exec(line.trim());
    if (!match || match[1] === 'default') continue;
    entries.push({ cidr: match[1].includes('/') ? match[1] : `${match[1]}/32`, dev: match[2], kind: 'route' });
  }
  for (const line of (await runHostCommand('ip', ['-o', '-4', 'addr', 'show'])).split('\n')) {
    const match = /^\d+:\s+(\S+)\s+inet (\S+)/.exec(line.trim());
    if (match) entries.push({ cidr: match[2], dev: match[1], kind: 'address' });
  }
  return entries;
}

/** Refuses a bridge subnet that overlaps what the host already routes elsewhere, naming both. */
export async function assertSubnetFree(subnet: string, bridge: string): Promise<void> {
  const conflict = findSubnetOverlap(subnet, bridge, await hostNetworkEntries());
  if (conflict) {
    throw new Error(
      `MUELLE_BRIDGE_SUBNET ${subnet} (bridge ${bridge}) overlaps the host's ${conflict.kind} ${conflict.cidr} on ${conflict.dev}; choose a subnet no other interface uses`,
    );
  }
}

function rangeOf(cidr: string): { first: number; last: number } | undefined {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!match) return undefined;
  const prefix = Number(match[2]);
  if (prefix < 1 || prefix > 32) return undefined;
  // parseSubnet limits prefixes to 8..30 for our own subnet; host entries may be anything.
  const [a, b, c, d] = match[1].split('.').map(Number);
  const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  const first = ((((a << 24) | (b << 16) | (c << 8) | d) >>> 0) & mask) >>> 0;
  return { first, last: (first + 2 ** (32 - prefix) - 1) >>> 0 };
}
