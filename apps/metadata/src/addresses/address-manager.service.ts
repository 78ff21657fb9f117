import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { AllocateHostSubnetRequest, cidrRange, cidrsOverlap, ConflictError } from '@muelle/contracts';
import { EntityManager, Repository } from 'typeorm';
import { SubnetAllocationEntity } from './subnet-allocation.entity';

/** Default bridges get /24s of this range, one per host, in order. */
export const HOST_SUBNET_POOL = '10.89.0.0/16';
const HOST_SUBNET_PREFIX = 24;
/** User-defined networks get /24s of this range unless they ask for a subnet of their own. */
export const NETWORK_SUBNET_POOL = '10.90.0.0/15';
const NETWORK_SUBNET_PREFIX = 24;
/** Advisory lock key that serialises allocations (replicas of metadata included). */
const ADDRESS_LOCK = 7_101_002;

const ipToString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** Every /prefix subnet of `pool`, lowest first. */
export function* subnetsOf(pool: string, prefix: number): Generator<string> {
  const range = cidrRange(pool);
  if (!range || prefix < range.prefix) return;
  const size = 2 ** (32 - prefix);
  for (let base = range.first; base + size - 1 <= range.last; base += size) yield `${ipToString(base)}/${prefix}`;
}

/** The first candidate overlapping nothing in `blocked`; undefined when the pool is exhausted. */
export function firstFreeSubnet(candidates: Iterable<string>, blocked: readonly string[]): string | undefined {
  for (const candidate of candidates) if (!blocked.some((b) => cidrsOverlap(candidate, b))) return candidate;
  return undefined;
}

/**
 * The address manager: subnets handed out so that no two owners overlap. Allocations run one at a
 * time under an advisory lock (overlap is not something a unique index can check); the primary key
 * and the unique owner stay as a backstop.
 */
@Injectable()
export class AddressManagerService {
  constructor(@InjectRepository(SubnetAllocationEntity) private readonly allocations: Repository<SubnetAllocationEntity>) {}

  /** The host's default-bridge subnet: the one it already holds, else its preferred one when free, else the next free /24. */
  async hostSubnet(request: AllocateHostSubnetRequest): Promise<{ subnet: string }> {
    const owner = `host:${request.hostId}`;
    return this.allocations.manager.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock($1)`, [ADDRESS_LOCK]);
      const all = await manager.find(SubnetAllocationEntity);
      const held = all.find((a) => a.owner === owner);
      if (held) return { subnet: held.cidr };
      const blocked = [...all.map((a) => a.cidr), ...request.avoid];
      const candidates = [...(request.preferred ? [request.preferred] : []), ...subnetsOf(HOST_SUBNET_POOL, HOST_SUBNET_PREFIX)];
      const subnet = firstFreeSubnet(candidates, blocked);
      if (!subnet) throw new ConflictError(`no free /${HOST_SUBNET_PREFIX} left in ${HOST_SUBNET_POOL} for host ${request.hostId} (set MUELLE_BRIDGE_SUBNET on it)`);
      await manager.insert(SubnetAllocationEntity, { cidr: subnet, owner, allocatedAt: new Date() });
      return { subnet };
    });
  }

  /**
   * Inside the caller's transaction (so the network's record and its subnet commit together): the
   * asked subnet when nothing overlaps it, else the next free /24 of the network pool.
   */
  async networkSubnet(manager: EntityManager, networkId: string, asked?: string): Promise<string> {
    await manager.query(`SELECT pg_advisory_xact_lock($1)`, [ADDRESS_LOCK]);
    const blocked = (await manager.find(SubnetAllocationEntity)).map((a) => a.cidr);
    if (asked) {
      const taken = blocked.find((cidr) => cidrsOverlap(cidr, asked));
      if (taken) throw new ConflictError(`subnet ${asked} overlaps ${taken}, already in use by a host bridge or another network`, { subnet: asked });
    }
    const subnet = asked ?? firstFreeSubnet(subnetsOf(NETWORK_SUBNET_POOL, NETWORK_SUBNET_PREFIX), blocked);
    if (!subnet) throw new ConflictError(`no free /${NETWORK_SUBNET_PREFIX} left in ${NETWORK_SUBNET_POOL} for a network (give one with --subnet)`);
    await manager.insert(SubnetAllocationEntity, { cidr: subnet, owner: `network:${networkId}`, allocatedAt: new Date() });
    return subnet;
  }
}
