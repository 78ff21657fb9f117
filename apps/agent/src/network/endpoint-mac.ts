import { createHash } from 'node:crypto';

/**
 * A container's MAC address on one network: locally administered (`02:42:…`, as Docker's), derived
 * from the container's id and, on a user network, the network's id — so every host computes the
 * same MAC for an endpoint (the overlay's neighbour entries need it without asking the host that
 * runs the container), and two endpoints of one container differ. The default bridge keeps the
 * container-only hash its containers always had.
 */
export function endpointMac(containerId: string, networkId?: string): string {
  const h = createHash('sha256')
    .update(networkId ? `${containerId}:${networkId}` : containerId)
    .digest();
  return ['02', '42', ...[h[0], h[1], h[2], h[3]].map((b) => (b as number).toString(16).padStart(2, '0'))].join(':');
}
