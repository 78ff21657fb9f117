import { gatewayInSubnet, NetworkOptions } from '@muelle/contracts';
import { z } from 'zod';

/**
 * `POST /v1/networks`. Strict: an option Muelle does not implement (IPv6, IPAM drivers, driver
 * options, …) is a 400 naming it, never ignored.
 */
export const CreateNetworkBody = NetworkOptions.extend({ driver: NetworkOptions.shape.driver.default('overlay') })
  .strict()
  .refine(...gatewayInSubnet);
export type CreateNetworkBody = z.output<typeof CreateNetworkBody>;
