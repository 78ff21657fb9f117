import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runHostCommand } from '@muelle/isolation';
import { chooseFirewall, type FirewallBackendName } from './firewall';

/** A user network's devices on a host: its bridge (`mn…`) and VXLAN device (`mx…`), named by the first 10 digits of its id. */
const NETWORK_DEVICE = /^m([nx])([0-9a-f]{10})$/;

/** The devices of one network on this host, by the id prefix in their names. */
export interface NetworkDevices {
  prefix: string;
  bridge?: string;
  vxlan?: string;
}

/**
 * Which user networks' devices on this host belong to no network metadata still records: every
 * `mn…`/`mx…` device whose id prefix starts none of `liveNetworkIds`, grouped per network. The
 * caller lists the devices before it asks for the live ids, so a network made in between (whose
 * bridge is newer than the listing) is never taken for a removed one.
 */
export function leftoverNetworks(devices: readonly string[], liveNetworkIds: readonly string[]): NetworkDevices[] {
  const live = new Set(liveNetworkIds.map((id) => id.slice(0, 10)));
  const byPrefix = new Map<string, NetworkDevices>();
  for (const device of devices) {
    const match = NETWORK_DEVICE.exec(device);
    if (!match || live.has(match[2]!)) continue;
    const entry = byPrefix.get(match[2]!) ?? { prefix: match[2]! };
    if (match[1] === 'n') entry.bridge = device;
    else entry.vxlan = device;
    byPrefix.set(match[2]!, entry);
  }
  return [...byPrefix.values()].sort((a, b) => a.prefix.localeCompare(b.prefix));
}

/** `ip -o link show` → device names (a veth's `name@peer` shortened to its name). */
export function parseLinkNames(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const name = /^\d+:\s+([^:\s]+):/.exec(line)?.[1];
    if (name) names.push(name.split('@')[0]!);
  }
  return names;
}

/** This host's network devices, asked of `ip` (not /sys, which may show another namespace; see vxlan.ts). */
export async function hostDevices(): Promise<string[]> {
  return parseLinkNames(await runHostCommand('ip', ['-o', 'link', 'show']));
}

/**
 * Takes a removed network's traces off this host: its VXLAN device, its bridge's rule tables, the
 * bridge and the bridge's address file. A bridge that still has a port once the VXLAN device is
 * gone (a container's veth: metadata refuses to remove a network with containers, so only a
 * container it no longer records) keeps its bridge and rules and is reported, not torn away.
 */
export async function removeNetworkDevices(devices: NetworkDevices, networkDir: string, firewallPreference: 'auto' | FirewallBackendName): Promise<'removed' | 'in-use'> {
  const present = new Set(await hostDevices());
  if (devices.vxlan && present.has(devices.vxlan)) await runHostCommand('ip', ['link', 'del', devices.vxlan]);
  if (!devices.bridge) return 'removed';
  if (present.has(devices.bridge)) {
    const ports = parseLinkNames(await runHostCommand('ip', ['-o', 'link', 'show', 'master', devices.bridge]));
    if (ports.length) return 'in-use';
  }
  await (await chooseFirewall(firewallPreference)).remove(devices.bridge);
  if (present.has(devices.bridge)) await runHostCommand('ip', ['link', 'del', devices.bridge]);
  await rm(join(networkDir, `${devices.bridge}.ipam.json`), { force: true });
  return 'removed';
}
