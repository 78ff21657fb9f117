import { join } from 'node:path';
import type { NetworkEndpoint } from '@muelle/contracts';
import { BridgeNetwork } from './bridge-network';
import type { NetworkResolvers } from './dns/network-resolvers';
import type { FirewallBackendName } from './firewall';
import { hostDevices, leftoverNetworks, type NetworkDevices, removeNetworkDevices } from './network-leftovers';
import { removeStaleNetworkBridges } from './stale-bridges';
import { VxlanDevice } from './vxlan';

/** A container on a user network, as the rules need it. */
export interface UserNetworkMember {
  containerId: string;
  ipAddress: string;
  endpoint: NetworkEndpoint;
  /** The veth end of a network joined after the first (live-endpoint.ts); absent: the first network's. */
  hostInterface?: string;
}

/**
 * The bridges of teams' user-defined networks on this host: one per network (`mn<id prefix>`), made
 * with the network's subnet and gateway when its first container starts here, each with its own
 * rule tables. A network's containers all belong to its team, so they form one group; nothing from
 * another bridge gets in but replies and published ports (rules.ts). Each network's resolver
 * (dns/) listens on its gateway here, and the rules let the network's containers reach it.
 */
export class UserNetworks {
  private readonly bridges = new Map<string, { endpoint: NetworkEndpoint; bridge: Promise<BridgeNetwork> }>();

  constructor(
    private readonly networkDir: string,
    private readonly firewallPreference: 'auto' | FirewallBackendName = 'auto',
    /**
     * Containers' MTU on overlay networks (undefined: the kernel's default; see overlay-networks.ts),
     * and each network's name resolver on its gateway (absent: containers get the host's resolvers).
     */
    private readonly options: { overlayMtu?: () => Promise<number | undefined>; resolvers?: NetworkResolvers } = {},
  ) {}

  /** The networks whose bridge is up on this host, for the overlay reconciler. */
  async opened(): Promise<Array<{ endpoint: NetworkEndpoint; bridge: BridgeNetwork }>> {
    const all = await Promise.all(
      [...this.bridges.values()].map(({ endpoint, bridge }) => bridge.then((b) => ({ endpoint, bridge: b }), () => undefined)), // a failed setup is retried by its next container
    );
    return all.filter((o): o is { endpoint: NetworkEndpoint; bridge: BridgeNetwork } => o !== undefined);
  }

  static bridgeName(networkId: string): string {
    return `mn${networkId.slice(0, 10)}`;
  }

  /** The network's bridge, made (with `members` as its first rule set) when this host has none yet. */
  bridgeFor(endpoint: NetworkEndpoint, members: readonly UserNetworkMember[] = []): Promise<BridgeNetwork> {
    let bridge = this.bridges.get(endpoint.id)?.bridge;
    if (!bridge) {
      bridge = this.open(endpoint, members);
      this.bridges.set(endpoint.id, { endpoint, bridge });
      // A failed setup is tried again by the next container that needs the network.
      bridge.catch(() => this.bridges.delete(endpoint.id));
    }
    return bridge;
  }

  /** After an agent start: each network's re-adopted containers join its rules at once. */
  async sync(members: readonly UserNetworkMember[]): Promise<void> {
    const byNetwork = new Map<string, UserNetworkMember[]>();
    for (const m of members) byNetwork.set(m.endpoint.id, [...(byNetwork.get(m.endpoint.id) ?? []), m]);
    for (const group of byNetwork.values()) await this.bridgeFor(group[0]!.endpoint, group);
  }

  /**
   * A network was removed: its resolver stops and its VXLAN device, bridge, rule tables and address
   * file go from this host. Returns 'in-use' when a container's veth still holds the bridge.
   */
  async remove(networkId: string): Promise<'removed' | 'in-use'> {
    const entry = this.bridges.get(networkId);
    this.bridges.delete(networkId);
    // A bridge whose setup failed has nothing more to wait for; what it made is removed below.
    await entry?.bridge.catch(() => undefined);
    await this.options.resolvers?.stop(networkId);
    return this.removeDevices({ prefix: networkId.slice(0, 10), bridge: UserNetworks.bridgeName(networkId), vxlan: VxlanDevice.nameFor(networkId) });
  }

  /**
   * The periodic catch-up (a host that was down when a network was removed): every network this
   * host has devices or a bridge for that `liveNetworkIds()` (metadata's record) no longer holds is
   * removed. Devices are listed before the record is asked, so a network made meanwhile is kept.
   * Returns the bridges of the networks removed.
   */
  async prune(liveNetworkIds: () => Promise<string[]>): Promise<string[]> {
    const devices = await hostDevices();
    const known = [...this.bridges.keys()];
    const live = await liveNetworkIds();
    const removed: string[] = [];
    for (const id of known.filter((k) => !live.includes(k))) {
      if ((await this.remove(id)) === 'removed') removed.push(UserNetworks.bridgeName(id));
    }
    for (const leftover of leftoverNetworks(devices, live)) {
      if (removed.includes(`mn${leftover.prefix}`)) continue;
      if ((await this.removeDevices(leftover)) === 'removed') removed.push(`mn${leftover.prefix}`);
    }
    return removed;
  }

  private removeDevices(devices: NetworkDevices): Promise<'removed' | 'in-use'> {
    return removeNetworkDevices(devices, this.networkDir, this.firewallPreference);
  }

  private async open(endpoint: NetworkEndpoint, members: readonly UserNetworkMember[]): Promise<BridgeNetwork> {
    const { subnet, gateway } = endpoint;
    if (!subnet || !gateway) throw new Error(`network ${endpoint.name}: its record carries no subnet (recorded by an older metadata?)`);
    const name = UserNetworks.bridgeName(endpoint.id);
    await removeStaleNetworkBridges(subnet, name, this.firewallPreference);
    // Every network but a bridge-driver one may span hosts: its containers leave room for the VXLAN headers.
    const mtu = endpoint.driver === 'bridge' ? undefined : await this.options.overlayMtu?.();
    const bridge = new BridgeNetwork(name, async () => subnet, join(this.networkDir, `${name}.ipam.json`), this.firewallPreference, {
      gateway,
      internal: endpoint.internal === true,
      resolver: this.options.resolvers !== undefined,
      networkId: endpoint.id,
      mtu,
    });
    await bridge.init();
    await this.options.resolvers?.serve(endpoint.id, gateway);
    await bridge.sync(members.map((m) => ({ containerId: m.containerId, ipAddress: m.ipAddress, group: m.endpoint.id, hostInterface: m.hostInterface })));
    return bridge;
  }
}
