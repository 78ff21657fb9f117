import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { cidrRange, ConflictError, NetworkRecord, NotFoundError, OverlayPeersReply, ParsedRequestOf, createNetwork } from '@muelle/contracts';
import { EntityManager, Repository } from 'typeorm';
import { AddressManagerService } from '../addresses/address-manager.service';
import { NetworkEndpoints } from './network-endpoints';
import { NetworkEntity } from './network.entity';

const ipToString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const FULL_ID = /^[0-9a-f]{64}$/;
const ID_PREFIX = /^[0-9a-f]{1,63}$/;

/** `10.1.2.3/24` → `10.1.2.0/24`: the record keeps the subnet as the kernel will route it. */
function normalised(cidr: string): string {
  const range = cidrRange(cidr)!;
  return `${ipToString(range.first)}/${range.prefix}`;
}

/** Teams' networks: one name per team, a subnet per network from the address manager. */
@Injectable()
export class NetworksService {
  constructor(
    @InjectRepository(NetworkEntity) private readonly networks: Repository<NetworkEntity>,
    private readonly addresses: AddressManagerService,
    private readonly endpoints: NetworkEndpoints,
  ) {}

  /** Record and subnet in one transaction: a refused name gives no subnet away, a refused subnet leaves no record. */
  async create(request: ParsedRequestOf<typeof createNetwork>): Promise<NetworkRecord> {
    const id = randomBytes(32).toString('hex');
    return this.networks.manager.transaction(async (manager) => {
      const exists = await manager
        .createQueryBuilder(NetworkEntity, 'n')
        .where('n.name = :name', { name: request.name })
        .andWhere(request.teamId ? 'n.team_id = :teamId' : 'n.team_id IS NULL', { teamId: request.teamId })
        .getExists();
      if (exists) throw new ConflictError(`a network named "${request.name}" already exists`, { name: request.name });
      const subnet = await this.addresses.networkSubnet(manager, id, request.subnet && normalised(request.subnet));
      const gateway = request.gateway ?? ipToString(cidrRange(subnet)!.first + 1);
      const row: Omit<NetworkEntity, 'vni'> = { id, name: request.name, teamId: request.teamId, driver: request.driver, subnet, gateway, internal: request.internal, labels: request.labels, createdAt: new Date() };
      // The unique index is the backstop for two creates racing past the check above.
      await manager.insert(NetworkEntity, row).catch((error: { code?: string }) => {
        throw error.code === '23505' ? new ConflictError(`a network named "${request.name}" already exists`, { name: request.name }) : error;
      });
      // The VNI comes from the column's sequence.
      return toRecord(await manager.findOneByOrFail(NetworkEntity, { id }));
    });
  }

  /** By full id, then name, then unique id prefix (Docker's order). */
  async get(ref: string, teamId?: string | null): Promise<NetworkRecord> {
    const query = this.networks.createQueryBuilder('n');
    if (FULL_ID.test(ref)) query.where('n.id = :ref', { ref });
    else if (ID_PREFIX.test(ref)) query.where('(n.name = :ref OR n.id LIKE :prefix)', { ref, prefix: `${ref}%` });
    else query.where('n.name = :ref', { ref });
    if (teamId) query.andWhere('n.team_id = :teamId', { teamId });
    const rows = await query.limit(50).getMany();
    const byName = rows.filter((r) => r.name === ref);
    const match = rows.find((r) => r.id === ref) ?? (byName.length === 1 ? byName[0] : undefined);
    if (match) return toRecord(match);
    if (byName.length > 1) throw new ConflictError(`"${ref}" names networks of several teams; use the id`);
    if (rows.length > 1) throw new ConflictError(`"${ref}" is the start of several network ids; give more of it`);
    if (!rows[0]) throw new NotFoundError(`no such network: ${ref}`);
    return toRecord(rows[0]);
  }

  overlayPeers(hostId: string, networkIds: readonly string[]): Promise<OverlayPeersReply> {
    return overlayPeersOf(this.networks.manager, hostId, networkIds);
  }

  async list(teamId?: string | null): Promise<NetworkRecord[]> {
    const query = this.networks.createQueryBuilder('n');
    if (teamId) query.where('n.team_id = :teamId', { teamId });
    return (await query.orderBy('n.name').getMany()).map(toRecord);
  }

  /**
   * Refused (CONFLICT naming them) while containers are attached, stopped ones included: their
   * recorded address is in the network. The subnet goes back to the pool by the table's trigger
   * (also when a team is deleted).
   */
  async delete(id: string): Promise<boolean> {
    return this.networks.manager.transaction(async (manager) => {
      const network = await manager.findOneBy(NetworkEntity, { id });
      if (!network) return false;
      const attached = await this.endpoints.attached(manager, id);
      if (attached.length) throw new ConflictError(`network ${network.name} has containers attached: ${attached.join(', ')} (remove them first)`, { containers: attached });
      return ((await manager.delete(NetworkEntity, { id })).affected ?? 0) > 0;
    });
  }
}

/**
 * The overlay networks among `networkIds`, each with its VNI and the running containers on it on
 * other hosts that registered an underlay address; and every other host's underlay address.
 */
export async function overlayPeersOf(manager: EntityManager, hostId: string, networkIds: readonly string[]): Promise<OverlayPeersReply> {
  const hosts: Array<{ address: string }> = await manager.query(`SELECT underlay_address AS address FROM hosts WHERE id <> $1 AND underlay_address IS NOT NULL ORDER BY id`, [hostId]);
  const networks = networkIds.length ? await manager.query(`SELECT id, vni FROM networks WHERE driver = 'overlay' AND id = ANY($1) ORDER BY id`, [networkIds]) : [];
  const peers: Array<{ network_id: string; container_id: string; host_id: string; underlay_address: string; address: string }> = networks.length
    ? await manager.query(
        `SELECT n->>'id' AS network_id, c.id AS container_id, c.host_id, h.underlay_address, n->>'address' AS address
           FROM containers c JOIN hosts h ON h.id = c.host_id, jsonb_array_elements(c.spec->'networks') n
          WHERE jsonb_typeof(c.spec->'networks') = 'array' AND n->>'id' = ANY($1) AND n->>'address' IS NOT NULL
            AND c.host_id <> $2 AND c.state IN ('running', 'paused') AND h.underlay_address IS NOT NULL
          ORDER BY c.id`,
        [networks.map((n: { id: string }) => n.id), hostId],
      )
    : [];
  return {
    hosts: hosts.map((h) => h.address),
    networks: networks.map((n: { id: string; vni: number }) => ({
      id: n.id,
      vni: n.vni,
      peers: peers.filter((p) => p.network_id === n.id).map((p) => ({ containerId: p.container_id, hostId: p.host_id, underlayAddress: p.underlay_address, address: p.address })),
    })),
  };
}

function toRecord(row: NetworkEntity): NetworkRecord {
  return {
    id: row.id,
    name: row.name,
    teamId: row.teamId,
    driver: row.driver,
    subnet: row.subnet,
    gateway: row.gateway,
    internal: row.internal,
    labels: row.labels,
    createdAt: row.createdAt.toISOString(),
    vni: row.vni,
  };
}
