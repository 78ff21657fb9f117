import { Injectable } from '@nestjs/common';
import { cidrRange, ConflictError, ContainerNetworks, ContainerSpec, InvalidArgumentError, NetworkEndpoint, NotFoundError } from '@muelle/contracts';
import { EntityManager } from 'typeorm';
import { NetworkEntity } from './network.entity';

/** First key of the two-key advisory lock that serialises one network's addresses and its removal. */
const NETWORK_LOCK = 7_101_003;

const ipToString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/**
 * Containers' addresses on teams' networks. The address is part of the container's recorded spec,
 * handed out here when metadata records the container, so it is unique on the network whichever host
 * runs it and stays the container's own across restarts and moves; it is free again once the record
 * is gone. One network's allocations and its removal run one at a time under an advisory lock.
 */
@Injectable()
export class NetworkEndpoints {
  /** The spec with every endpoint filled in from its network's record, and an address each. */
  async assign(manager: EntityManager, teamId: string | null, spec: ContainerSpec): Promise<ContainerSpec> {
    const networks: NetworkEndpoint[] = [];
    for (const asked of spec.networks ?? []) networks.push(await this.endpointOn(manager, teamId, asked));
    return { ...spec, networks };
  }

  /**
   * `network connect`: the container's spec with one more network, its address handed out as at
   * create and the list held to the create-time rule (`ContainerNetworks`: at most 8). Only a
   * container on user-defined networks joins another: one on the default bridge has no place for
   * it at its next start (its eth0 is the default bridge), one on host or none has no interfaces
   * of its own (dockerd refuses those too).
   */
  async connect(manager: EntityManager, container: { name: string; teamId: string | null; spec: ContainerSpec }, asked: Pick<NetworkEndpoint, 'id' | 'name' | 'aliases'>): Promise<ContainerSpec> {
    const { spec } = container;
    if (spec.network === 'host') throw new InvalidArgumentError('container sharing network namespace with another container or host cannot be connected to any other network');
    if (spec.network === 'none') throw new InvalidArgumentError('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (!spec.networks.length) throw new InvalidArgumentError(`container ${container.name} is on the default bridge: only a container created on a user-defined network (--network) joins more networks`);
    if (spec.networks.some((n) => n.id === asked.id)) throw new ConflictError(`endpoint with name ${container.name} already exists in network ${asked.name}`);
    const checked = ContainerNetworks.safeParse([...spec.networks, await this.endpointOn(manager, container.teamId, asked)]);
    if (!checked.success) throw new InvalidArgumentError(checked.error.issues.map((i) => i.message).join('; '));
    return { ...spec, networks: checked.data };
  }

  /**
   * `network disconnect`: the spec without the network (its address is free again with the record
   * written). The first network stays: it is eth0 with the default route, made by the isolation
   * helper at start, and the container would be left without a place.
   */
  disconnect(container: { id: string; spec: ContainerSpec }, network: { id: string; name: string }): ContainerSpec {
    const at = container.spec.networks.findIndex((n) => n.id === network.id);
    if (at < 0) throw new ConflictError(`container ${container.id} is not connected to network ${network.name}`);
    if (at === 0) throw new InvalidArgumentError(`network ${network.name} is the container's first network (eth0, its default route): Muelle disconnects only the networks joined after it`);
    return { ...container.spec, networks: container.spec.networks.filter((n) => n.id !== network.id) };
  }

  /** One endpoint from its network's record, with the lowest free address (under the network's lock). */
  private async endpointOn(manager: EntityManager, teamId: string | null, asked: Pick<NetworkEndpoint, 'id' | 'name' | 'aliases'>): Promise<NetworkEndpoint> {
    await this.lock(manager, asked.id);
    const network = await manager.findOneBy(NetworkEntity, { id: asked.id });
    // Another team's network does not exist for this container.
    if (!network || network.teamId !== teamId) throw new NotFoundError(`no such network: ${asked.name}`);
    const used = new Set<string>(
      (
        await manager.query(
          `SELECT n->>'address' AS address FROM containers c, jsonb_array_elements(c.spec->'networks') n WHERE jsonb_typeof(c.spec->'networks') = 'array' AND n->>'id' = $1`,
          [network.id],
        )
      ).map((row: { address: string }) => row.address),
    );
    used.add(network.gateway);
    const range = cidrRange(network.subnet)!;
    let address: string | undefined;
    for (let n = range.first + 1; n < range.last && !address; n++) if (!used.has(ipToString(n))) address = ipToString(n);
    if (!address) throw new ConflictError(`network ${network.name} has no free address left (${network.subnet})`);
    return { id: network.id, name: network.name, driver: network.driver, subnet: network.subnet, gateway: network.gateway, internal: network.internal, address, ...(asked.aliases?.length ? { aliases: [...new Set(asked.aliases)] } : {}) };
  }

  /** Names of the containers attached to the network (any state), under its lock: a removal checks and deletes with no container joining meanwhile. */
  async attached(manager: EntityManager, networkId: string): Promise<string[]> {
    await this.lock(manager, networkId);
    const rows: Array<{ name: string }> = await manager.query(`SELECT name FROM containers WHERE spec->'networks' @> $1::jsonb ORDER BY name`, [JSON.stringify([{ id: networkId }])]);
    return rows.map((r) => r.name);
  }

  private async lock(manager: EntityManager, networkId: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [NETWORK_LOCK, networkId]);
  }
}
