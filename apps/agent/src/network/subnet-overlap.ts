import { cidrsOverlap, UnavailableError } from '@muelle/contracts';
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
  return entries.find((entry) => entry.dev !== bridge && entry.cidr !== '0.0.0.0/0' && cidrsOverlap(subnet, entry.cidr));
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
    // Typed: the user learns which host interface is in the way (a 503 naming it), not "internal error".
    throw new UnavailableError(
      `bridge subnet ${subnet} (bridge ${bridge}) overlaps the host's ${conflict.kind} ${conflict.cidr} on ${conflict.dev}; set MUELLE_BRIDGE_SUBNET to a subnet no other interface uses`,
    );
  }
}
