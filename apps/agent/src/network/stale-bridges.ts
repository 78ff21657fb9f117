import { readdir } from 'node:fs/promises';
import { cidrsOverlap } from '@muelle/contracts';
import { runHostCommand } from '@muelle/isolation';
import { chooseFirewall, type FirewallBackendName } from './firewall';
import { hostNetworkEntries } from './subnet-overlap';

/** Prefix of user networks' bridges (UserNetworks.bridgeName). */
const NETWORK_BRIDGE = /^mn[0-9a-f]{10}$/;

/**
 * Bridges of removed networks: a network's bridge stays on a host after the network is removed
 * (no container is left on it, so nothing asks for it again), and the address manager hands its
 * subnet to a later network. Before that network's bridge is made, a user-network bridge of ours
 * that holds an overlapping subnet and has no port left is such a leftover — two live networks never
 * overlap — and goes with its rules. One with ports is left alone (the overlap check then names it).
 */
export async function removeStaleNetworkBridges(subnet: string, keep: string, firewallPreference: 'auto' | FirewallBackendName): Promise<string[]> {
  const removed: string[] = [];
  const candidates = new Set((await hostNetworkEntries()).filter((e) => e.dev !== keep && NETWORK_BRIDGE.test(e.dev) && cidrsOverlap(subnet, e.cidr)).map((e) => e.dev));
  for (const bridge of candidates) {
    // Unreadable (gone meanwhile, or not a bridge): counted as in use, so it is left alone.
    const ports = await readdir(`/sys/class/net/${bridge}/brif`).catch(() => ['unknown']);
    if (ports.length) continue;
    await (await chooseFirewall(firewallPreference)).remove(bridge);
    await runHostCommand('ip', ['link', 'del', bridge]);
    removed.push(bridge);
  }
  return removed;
}
