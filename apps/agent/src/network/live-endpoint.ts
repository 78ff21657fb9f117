import { createHash } from 'node:crypto';
import { runHostCommand } from '@muelle/isolation';

/** A container's second and later network interfaces: what the agent wires into its running namespace. */
export interface LiveEndpoint {
  /** The bridge the host end goes into. */
  bridge: string;
  /** Host end of the veth (`liveHostInterface`). */
  hostInterface: string;
  /** Inside the container: `eth1`, `eth2`… (`nextInterfaceName`). */
  ifName: string;
  macAddress: string;
  /** `address/prefix` on the network. */
  address: string;
  mtu?: number;
}

const INTERFACE = /^eth(\d+)$/;

/**
 * The name the next network gets inside a container that has `existing` interfaces: `eth<N>` with
 * the lowest N not taken, as dockerd numbers them (eth0 is the first network, given at start).
 */
export function nextInterfaceName(existing: readonly string[]): string {
  const taken = new Set(existing.map((name) => INTERFACE.exec(name)?.[1]).filter((n): n is string => n !== undefined).map(Number));
  let n = 0;
  while (taken.has(n)) n++;
  return `eth${n}`;
}

/**
 * Host end of a container's veth on a network joined after its start. The first network's veth is
 * `mv<container id prefix>` (bridge-network.ts); a later one is named from container and network
 * together (`me` + 10 hex digits of their hash), so each network's end is distinct and any agent
 * computes the same name again after a restart.
 */
export function liveHostInterface(containerId: string, networkId: string): string {
  return `me${createHash('sha256').update(`${containerId}:${networkId}`).digest('hex').slice(0, 10)}`;
}

/** `ip -o link show` inside a running container's network namespace (pid: any process in it). */
export async function containerInterfaces(pid: number): Promise<string[]> {
  const text = await runHostCommand('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'link', 'show']);
  return text
    .split('\n')
    .map((line) => /^\d+:\s+([^:\s@]+)[@:]/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

/**
 * Wires a running container (pid: a process in its network namespace) into one more network: a
 * veth pair whose peer is made directly in the container's namespace under its final name (no
 * clash with a host device), with the network's MAC, address and MTU, up; the host end joins the
 * bridge. No route changes: the default route stays on the first network. A failure half-way
 * removes the pair (deleting either end deletes both).
 */
export async function attachLive(pid: number, endpoint: LiveEndpoint): Promise<void> {
  const mtu = endpoint.mtu ? ['mtu', String(endpoint.mtu)] : [];
  await runHostCommand('ip', ['link', 'add', endpoint.hostInterface, ...mtu, 'type', 'veth', 'peer', 'name', endpoint.ifName, 'address', endpoint.macAddress, ...mtu, 'netns', String(pid)]);
  try {
    const inside = (args: string[]) => runHostCommand('nsenter', ['-t', String(pid), '-n', 'ip', ...args]);
    await inside(['addr', 'add', endpoint.address, 'dev', endpoint.ifName]);
    await inside(['link', 'set', endpoint.ifName, 'up']);
    await runHostCommand('ip', ['link', 'set', endpoint.hostInterface, 'master', endpoint.bridge, 'up']);
  } catch (error) {
    await detachLive(endpoint.hostInterface);
    throw error;
  }
}

/** Takes a live-joined network's veth away (both ends go); absent already: nothing to do. */
export async function detachLive(hostInterface: string): Promise<void> {
  const present = await runHostCommand('ip', ['-o', 'link', 'show', 'dev', hostInterface]).then(() => true, () => false); // fails only when there is no such device
  if (present) await runHostCommand('ip', ['link', 'del', hostInterface]);
}
