import { z } from 'zod';
import { defineRequest } from '../contract';
import { HealthStatus } from '../containers/container.schemas';
import { NetworkId } from './networks.contracts';

/**
 * One container's names on one network, as the network's resolvers need them: its name, the
 * aliases it was given on that network, the service it is a replica of, and its address there.
 * Metadata answers from its record, so containers on every host of the network are listed.
 */
export const NetworkNameEntry = z.object({
  containerId: z.string(),
  name: z.string(),
  aliases: z.array(z.string()),
  address: z.ipv4(),
  /** The `muelle.service` label: the service this container is a replica of. */
  service: z.string().nullable(),
  running: z.boolean(),
  health: HealthStatus.nullable(),
  /** Every network the container is on, in its order (a resolver answers a container the names of each). */
  networks: z.array(z.string()).optional(),
});
export type NetworkNameEntry = z.infer<typeof NetworkNameEntry>;

/** Every container recorded on the network (any state), with its names and address on it. */
export const networkNames = defineRequest('muelle.metadata.networks.names.v1', z.object({ networkId: NetworkId }), z.object({ items: z.array(NetworkNameEntry) }));
