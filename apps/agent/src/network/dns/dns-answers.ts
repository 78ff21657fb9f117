import type { NetworkNameEntry } from '@muelle/contracts';

/** What the resolver does with one question (dns-server.ts turns it into a reply). */
export type DnsDecision =
  /** A records, already rotated for round-robin. */
  | { kind: 'addresses'; addresses: string[] }
  /** The name is the network's, but has no record of the asked type (AAAA of a container): NOERROR, no answers. */
  | { kind: 'no-data' }
  /** Not a name of this network: the host's resolvers answer it. */
  | { kind: 'forward' }
  /** The asker is not on this network (or the question is not a plain query): nothing is said. */
  | { kind: 'refused' };

export interface DnsQuestion {
  name: string;
  /** Record type as dns-packet names it: `A`, `AAAA`, `MX`, … */
  type: string;
}

/** `Web.` and `web` are the same name. */
export function canonicalName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** A service replica that takes traffic: running, and healthy or without a health check. */
function serving(entry: NetworkNameEntry): boolean {
  return entry.running && entry.health !== 'starting' && entry.health !== 'unhealthy';
}

function rotate<T>(items: readonly T[], turn: number): T[] {
  if (items.length < 2) return [...items];
  const k = turn % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * The answer of one network's resolver, from the network's record in metadata (`entries`, every
 * container on the network whichever host runs it):
 * - a container's name or one of its aliases on this network → its address while it runs;
 * - a service's name or an alias its replicas carry → one of its serving replicas, the next at each question;
 *   `tasks.<service>` (or `tasks.<alias>`) → every running replica;
 * - anything else is forwarded. Names of other networks (another team's included) are not in
 *   `entries`, so they never resolve here.
 * Only a container of the network gets answers (`asker`: the query's source address). Several
 * addresses come rotated by `turn`, so successive clients spread over the replicas.
 */
export function decide(question: DnsQuestion, entries: readonly NetworkNameEntry[], asker: string, turn: number): DnsDecision {
  if (!entries.some((e) => e.address === asker)) return { kind: 'refused' };
  const name = canonicalName(question.name);
  const matched = new Set<string>();
  let known = false;
  let byServiceOnly = true;
  for (const entry of entries) {
    const aliases = entry.aliases.map(canonicalName);
    // A replica's aliases are its service's names on this network (a stack's short service name):
    // they answer as the service does. Another container's aliases are its own names.
    const serviceNames = entry.service ? [entry.service.toLowerCase(), ...aliases] : [];
    const byName = canonicalName(entry.name) === name || (!entry.service && aliases.includes(name));
    const byService = serviceNames.includes(name);
    const byTasks = serviceNames.some((service) => `tasks.${service}` === name);
    if (!byName && !byService && !byTasks) continue;
    if (byName ? entry.running : byTasks ? entry.running : serving(entry)) {
      known = true;
      if (byName || byTasks) byServiceOnly = false;
      matched.add(entry.address);
    }
  }
  // A stopped container's name is not the network's any more: like Docker, the question goes on.
  if (!known) return { kind: 'forward' };
  if (question.type !== 'A') return { kind: 'no-data' };
  const addresses = rotate([...matched].sort(), turn);
  // A service name gets one replica per answer, the next one each time: clients' resolvers sort
  // several addresses (glibc's RFC 6724 rules prefer the longest common prefix), so a full list
  // would send every client of a host to the same replica. `tasks.<name>` keeps the whole list.
  return { kind: 'addresses', addresses: byServiceOnly ? addresses.slice(0, 1) : addresses };
}
