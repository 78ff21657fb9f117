import { createHash } from 'node:crypto';

/**
 * A container's MAC address on a network, computed from ids alone, so every host derives the same
 * one from the platform's record: the VXLAN forwarding entries other hosts program for a container
 * (the agent's overlay-plan.ts) name the very MAC its veth was made with. Without a network (the host's default
 * bridge) it is the container's long-standing address; on a user network the network id is mixed
 * in, so one container has a distinct MAC on each of its networks.
 *
 * `02:42` (locally administered, unicast) and 32 bits of SHA-256.
 */
export function endpointMac(containerId: string, networkId?: string): string {
  const h = createHash('sha256').update(networkId ? `${containerId}/${networkId}` : containerId).digest();
  return ['02', '42', ...[h[0], h[1], h[2], h[3]].map((b) => (b as number).toString(16).padStart(2, '0'))].join(':');
}
