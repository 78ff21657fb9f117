import { z } from 'zod';
import { defineRequest } from '../contract';
import { HostRecord } from '../hosts/hosts.contracts';
import { Cidr } from './cidr';

export const AllocateHostSubnetRequest = z.object({
  hostId: HostRecord.shape.id,
  /** Granted when free (an agent keeping the subnet its containers already use). */
  preferred: Cidr.optional(),
  /** The host's own routes and interface addresses: never handed out to it. */
  avoid: z.array(Cidr).max(4096).default([]),
});
export type AllocateHostSubnetRequest = z.infer<typeof AllocateHostSubnetRequest>;

/**
 * The address manager in metadata: a host's default-bridge subnet, distinct from every other
 * host's (the same answer every time the host asks again).
 */
export const allocateHostSubnet = defineRequest('muelle.metadata.addresses.host-subnet.v1', AllocateHostSubnetRequest, z.object({ subnet: Cidr }));
