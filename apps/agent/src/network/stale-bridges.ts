import { cidrsOverlap } from '@muelle/contracts';
import { runHostCommand } from '@muelle/isolation';
import { chooseFirewall, type FirewallBackendName } from './firewall';
import { hostNetworkEntries } from './subnet-overlap';
import { VxlanDevice } from './vxlan';

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
    // Unreadable (gone meanwhile, or not a bridge): counted as in use, so it is left alone. The
    // network's own VXLAN device (mx + the same id prefix) is no container: it does not count.
    const vxlan = VxlanDevice.nameFor(bridge.slice(2));
    // Asked over netlink (`ip`), not /sys: /sys shows the namespace it was mounted in, which need not be the agent's.
    const ports = (await bridgePorts(bridge).catch(() => ['unknown'])).filter((port) => port !== vxlan);
    if (ports.length) continue;
    await (await chooseFirewall(firewallPreference)).remove(bridge);
    await runHostCommand('ip', ['link', 'del', bridge]);
    await unlessNoSuchDevice(runHostCommand('ip', ['link', 'del', vxlan]));
    removed.push(bridge);
  }
  return removed;
}

/** `ip link del` of a device that is not there (a bridge-driver network has no VXLAN device) is no failure. */
async function unlessNoSuchDevice(deleting: Promise<unknown>): Promise<void> {
  try {
    await deleting;
  } catch (error) {
    if (!/Cannot find device|does not exist/i.test(String((error as Error).message))) throw error;
  }
}

/** The interfaces enslaved to `bridge` (`ip -o link show master BRIDGE`: `7: name@peer: <…> …`). */
async function bridgePorts(bridge: string): Promise<string[]> {
  const lines = (await runHostCommand('ip', ['-o', 'link', 'show', 'master', bridge])).split('\n').filter((l) => l.trim());
  return lines.map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? 'unknown');
}
