import { InvalidArgumentError, type NetworkEndpoint } from '@muelle/contracts';
import { attachLive, detachLive, liveHostInterface } from './live-endpoint';
import type { UserNetworkMember, UserNetworks } from './user-networks';

/**
 * The interface each of a container's networks gets inside it, in the order given: the first is
 * `eth0` (wired by the isolation helper at start, with the default route), the others `eth1`,
 * `eth2`… Pure: the start path and its tests share it.
 */
export function interfacePlan(networks: readonly NetworkEndpoint[]): Array<{ endpoint: NetworkEndpoint; ifName: string }> {
  return networks.map((endpoint, i) => ({ endpoint, ifName: `eth${i}` }));
}

/**
 * A running container's place on each of its networks, for the rules after an agent restart: the
 * address on each is in the recorded spec (the first's is also the record's `ipAddress`, which
 * records from before per-endpoint addresses carry alone).
 */
export function networkMembers(containerId: string, ipAddress: string, networks: readonly NetworkEndpoint[]): UserNetworkMember[] {
  return networks.flatMap((endpoint, i) => {
    const address = endpoint.address ?? (i === 0 ? ipAddress : undefined);
    return address ? [{ containerId, ipAddress: address, endpoint, ...(i > 0 ? { hostInterface: liveHostInterface(containerId, endpoint.id) } : {}) }] : [];
  });
}

/** The address metadata recorded for the container on the network. */
export function endpointAddress(endpoint: NetworkEndpoint): string {
  if (!endpoint.address) throw new InvalidArgumentError(`network ${endpoint.name}: no address was recorded for this container (create it again)`);
  return endpoint.address;
}

/**
 * A container's networks after its first one: wired into its namespace before its workload runs
 * (the isolation driver's `beforeStart`, live-endpoint.ts), each network's rules learning the
 * container's address there first. The first network's veth and route come from the isolation
 * helper as before.
 */
export class ExtraNetworks {
  constructor(private readonly userNetworks: UserNetworks) {}

  /** Joins `networks[1..]` (pid: a process in the container's namespace). A failure undoes what was joined and throws. */
  async join(containerId: string, pid: number, networks: readonly NetworkEndpoint[]): Promise<void> {
    const joined: NetworkEndpoint[] = [];
    try {
      for (const { endpoint, ifName } of interfacePlan(networks).slice(1)) {
        joined.push(endpoint);
        await this.joinOne(containerId, pid, endpoint, ifName);
      }
    } catch (error) {
      await this.leave(containerId, [networks[0]!, ...joined]).catch(() => undefined); // the join's own error is the one to report
      throw error;
    }
  }

  /** Wires one network into a running container under `ifName`: the rules know the address before the interface is up. */
  async joinOne(containerId: string, pid: number, endpoint: NetworkEndpoint, ifName: string): Promise<void> {
    const bridge = await this.userNetworks.bridgeFor(endpoint);
    const address = endpointAddress(endpoint);
    const live = bridge.liveAttachment(containerId, address, liveHostInterface(containerId, endpoint.id), ifName);
    // The rules name this network's own veth end, not the first network's.
    await bridge.join(containerId, address, endpoint.id, live.hostInterface);
    try {
      await attachLive(pid, live);
    } catch (error) {
      await bridge.leave(containerId).catch(() => undefined); // the attach error is the one to report
      throw error;
    }
  }

  /**
   * The container left `networks[1..]` (an exit, a removal, a failed start): each network's rules
   * forget it and a host end still there goes (the veth dies with the namespace on an exit).
   */
  async leave(containerId: string, networks: readonly NetworkEndpoint[]): Promise<void> {
    for (const endpoint of networks.slice(1)) await this.leaveOne(containerId, endpoint);
  }

  async leaveOne(containerId: string, endpoint: NetworkEndpoint): Promise<void> {
    const bridge = await this.userNetworks.bridgeFor(endpoint);
    await bridge.leave(containerId);
    await detachLive(liveHostInterface(containerId, endpoint.id));
  }
}
