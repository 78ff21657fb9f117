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
 * - a service's name → the addresses of its serving replicas; `tasks.<service>` → every running replica;
 *   a replica's aliases on the network count as more names of its service (both forms);
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
  for (const entry of entries) {
    // A replica's aliases are more names of its service (a stack's `web` for `shop-web`), answered as the service's name is.
    const services = entry.service ? [entry.service, ...entry.aliases].map(canonicalName) : [];
    const byName = canonicalName(entry.name) === name || (!entry.service && entry.aliases.some((a) => canonicalName(a) === name));
    const byService = services.includes(name);
    const byTasks = services.some((s) => `tasks.${s}` === name);
    if (!byName && !byService && !byTasks) continue;
    if (byName ? entry.running : byTasks ? entry.running : serving(entry)) {
      known = true;
      matched.add(entry.address);
    }
  }
  // A stopped container's name is not the network's any more: like Docker, the question goes on.
  if (!known) return { kind: 'forward' };
  if (question.type !== 'A') return { kind: 'no-data' };
  return { kind: 'addresses', addresses: rotate([...matched].sort(), turn) };
}
