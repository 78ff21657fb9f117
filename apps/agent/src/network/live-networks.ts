import { ConflictError, type ContainerSpec, type NetworkEndpoint } from '@muelle/contracts';
import type { ExtraNetworks } from './extra-networks';
import { containerInterfaces, nextInterfaceName } from './live-endpoint';

/** What `network connect`/`disconnect` needs of a container on this host. */
export interface NetworkedContainer {
  id: string;
  state: string;
  /** The init's host pid while it runs (a process in its network namespace). */
  initPid: number | null;
  spec: Pick<ContainerSpec, 'network' | 'networks'>;
}

/** A running container is wired now; any other state only keeps the list, which its next start wires (as dockerd). */
const runsNow = (c: NetworkedContainer) => c.state === 'running' && c.initPid !== null;

/**
 * Pure: the container's networks once `endpoint` (as metadata recorded it, with its address) joined
 * them, and whether its namespace gets the interface now. Metadata applied the rules already (team,
 * count, modes, the first network: NetworkEndpoints); the host only follows the record.
 */
export function connectPlan(container: NetworkedContainer, endpoint: NetworkEndpoint): { networks: NetworkEndpoint[]; live: boolean } {
  if (container.spec.networks.some((n) => n.id === endpoint.id)) throw new ConflictError(`container ${container.id} is already connected to network ${endpoint.name}`);
  return { networks: [...container.spec.networks, endpoint], live: runsNow(container) };
}

/** Pure: the networks without `networkId`; `endpoint` is what to unwire (absent: the host never had it, nothing to do). */
export function disconnectPlan(container: NetworkedContainer, networkId: string): { networks: NetworkEndpoint[]; endpoint?: NetworkEndpoint; live: boolean } {
  const at = container.spec.networks.findIndex((n) => n.id === networkId);
  if (at < 0) return { networks: container.spec.networks, live: false };
  return { networks: container.spec.networks.filter((n) => n.id !== networkId), endpoint: container.spec.networks[at], live: runsNow(container) };
}

/**
 * `network connect`/`disconnect` on this host: a running container's namespace gains `eth<N>` (the
 * lowest free N, as dockerd numbers them) on the network's bridge with its recorded address, or
 * loses it with its host end and the network's rules for it (extra-networks.ts, live-endpoint.ts).
 */
export class LiveNetworks {
  constructor(
    private readonly extra: () => ExtraNetworks,
    private readonly interfaces: (pid: number) => Promise<string[]> = containerInterfaces,
  ) {}

  /** The container's networks after the join (wired already when it runs). */
  async connect(container: NetworkedContainer, endpoint: NetworkEndpoint): Promise<NetworkEndpoint[]> {
    const plan = connectPlan(container, endpoint);
    if (plan.live) {
      const pid = container.initPid!;
      await this.extra().joinOne(container.id, pid, endpoint, nextInterfaceName(await this.interfaces(pid)));
    }
    return plan.networks;
  }

  /** The container's networks after the leave (unwired already when it runs). */
  async disconnect(container: NetworkedContainer, networkId: string): Promise<NetworkEndpoint[]> {
    const plan = disconnectPlan(container, networkId);
    if (plan.endpoint && plan.live) await this.extra().leaveOne(container.id, plan.endpoint);
    return plan.networks;
  }
}
