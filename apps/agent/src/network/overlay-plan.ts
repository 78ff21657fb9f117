/**
 * What a host's VXLAN device of one overlay network must hold, as pure functions: the platform's
 * record of the network's containers on other hosts in, the forwarding (FDB: MAC → remote host)
 * and neighbour (ARP: address → MAC) entries out, and the changes that turn the kernel's current
 * entries into those. The device has `nolearning` and `proxy`: it learns nothing from the wire and
 * answers local containers' ARP requests from these neighbour entries, so only containers the
 * platform placed are reachable, and no broadcast crosses hosts.
 */
import { endpointMac, type OverlayPeer } from '@muelle/contracts';

export interface FdbEntry {
  mac: string;
  /** The remote host's underlay address. */
  remote: string;
}

export interface NeighbourEntry {
  ip: string;
  mac: string;
}

export interface OverlayEntries {
  fdb: FdbEntry[];
  neighbours: NeighbourEntry[];
}

export interface OverlayChanges {
  /** Added or changed (`bridge fdb replace`). */
  fdbSet: FdbEntry[];
  fdbDelete: FdbEntry[];
  /** Added or changed (`ip neigh replace`). */
  neighbourSet: NeighbourEntry[];
  neighbourDelete: NeighbourEntry[];
}

/** The entries a network's VXLAN device needs for its containers on other hosts. */
export function desiredEntries(networkId: string, peers: readonly OverlayPeer[]): OverlayEntries {
  const fdb = new Map<string, FdbEntry>();
  const neighbours = new Map<string, NeighbourEntry>();
  for (const peer of peers) {
    const mac = endpointMac(peer.containerId, networkId);
    fdb.set(mac, { mac, remote: peer.underlayAddress });
    neighbours.set(peer.address, { ip: peer.address, mac });
  }
  const byKey = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  return { fdb: byKey(fdb), neighbours: byKey(neighbours) };
}

/** Only what differs: an unchanged entry is left alone (no flap of a working path). */
export function diffEntries(desired: OverlayEntries, current: OverlayEntries): OverlayChanges {
  const currentFdb = new Map(current.fdb.map((e) => [e.mac, e]));
  const desiredFdb = new Map(desired.fdb.map((e) => [e.mac, e]));
  const currentNeigh = new Map(current.neighbours.map((e) => [e.ip, e]));
  const desiredNeigh = new Map(desired.neighbours.map((e) => [e.ip, e]));
  return {
    fdbSet: desired.fdb.filter((e) => currentFdb.get(e.mac)?.remote !== e.remote),
    // An entry for a MAC that moved is replaced, not deleted.
    fdbDelete: current.fdb.filter((e) => !desiredFdb.has(e.mac)),
    neighbourSet: desired.neighbours.filter((e) => currentNeigh.get(e.ip)?.mac !== e.mac),
    neighbourDelete: current.neighbours.filter((e) => !desiredNeigh.has(e.ip)),
  };
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * `bridge fdb show dev <vxlan>`: the device's own (`self`) entries with a `dst` are ours, an
 * all-zeros flood entry included (we never make one, so the diff removes it); entries the bridge
 * learned (`master`) are the bridge's business.
 */
export function parseFdb(text: string): FdbEntry[] {
  const entries: FdbEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const dst = words.indexOf('dst');
    if (dst < 0 || !words.includes('self') || words.includes('master')) continue;
    const mac = words[0]?.toLowerCase() ?? '';
    const remote = words[dst + 1] ?? '';
    if (MAC.test(mac) && IPV4.test(remote)) entries.push({ mac, remote });
  }
  return entries;
}

/** `ip neigh show dev <vxlan>`: `10.1.0.3 lladdr 02:42:… PERMANENT`; entries without a MAC (FAILED/INCOMPLETE) are skipped. */
export function parseNeighbours(text: string): NeighbourEntry[] {
  const entries: NeighbourEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const at = words.indexOf('lladdr');
    const ip = words[0] ?? '';
    const mac = (words[at + 1] ?? '').toLowerCase();
    if (at > 0 && IPV4.test(ip) && MAC.test(mac)) entries.push({ ip, mac });
  }
  return entries;
}
