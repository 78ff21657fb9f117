import { Injectable } from '@nestjs/common';
import { cidrRange, ConflictError, ContainerSpec, NetworkEndpoint, NotFoundError } from '@muelle/contracts';
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
    for (const asked of spec.networks ?? []) {
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
      networks.push({ id: network.id, name: network.name, driver: network.driver, subnet: network.subnet, gateway: network.gateway, internal: network.internal, address, ...(asked.aliases?.length ? { aliases: [...new Set(asked.aliases)] } : {}) });
    }
    return { ...spec, networks };
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
