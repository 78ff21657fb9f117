import { gatewayInSubnet, NetworkAlias, NetworkOptions } from '@muelle/contracts';
import { z } from 'zod';

/**
 * `POST /v1/networks`. Strict: an option Muelle does not implement (IPv6, IPAM drivers, driver
 * options, …) is a 400 naming it, never ignored.
 */
export const CreateNetworkBody = NetworkOptions.extend({ driver: NetworkOptions.shape.driver.default('overlay') })
  .strict()
  .refine(...gatewayInSubnet);
export type CreateNetworkBody = z.output<typeof CreateNetworkBody>;

/** `POST /v1/networks/{name}/connect`: the container by name or id, and its extra names on this network. */
export const ConnectNetworkBody = z.object({ container: z.string().min(1).max(128), aliases: z.array(NetworkAlias).max(32).default([]) }).strict();
export type ConnectNetworkBody = z.output<typeof ConnectNetworkBody>;

/** `POST /v1/networks/{name}/disconnect`; `force`: see NetworkConnections.disconnect. */
export const DisconnectNetworkBody = z.object({ container: z.string().min(1).max(128), force: z.boolean().default(false) }).strict();
export type DisconnectNetworkBody = z.output<typeof DisconnectNetworkBody>;
