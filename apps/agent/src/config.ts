import { z } from 'zod';
import { hostname } from 'node:os';
import { bindHost, logLevel, minFreeBytes, natsUrl, port, seconds, registryAddress, trustTlsShape } from '@muelle/service-kit';

const defaultHostId = hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 63) || 'host';

/** `zone=a,disk=ssd` → { zone: 'a', disk: 'ssd' } */
const labels = z
  .string()
  .regex(/^([A-Za-z0-9._/-]+=[^,=]*)(,[A-Za-z0-9._/-]+=[^,=]*)*$/, 'must look like key=value,key2=value2')
  .transform((text) => Object.fromEntries(text.split(',').map((pair) => pair.split('=', 2) as [string, string])));

export const agentConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  MUELLE_AGENT_PORT: port(7103),
  MUELLE_DATA_DIR: z.string().min(1).default('./data'),
  /** Below this many free bytes under the data folder /readyz reports low disk and the scheduler skips the host. */
  MUELLE_MIN_FREE_BYTES: minFreeBytes,
  MUELLE_HOST_ID: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and -, max 63').default(defaultHostId),
  /** The address other hosts and clients use to reach published ports on this host. */
  MUELLE_HOST_ADDRESS: z.string().min(1).default('127.0.0.1'),
  /**
   * The IPv4 address other hosts send this host's VXLAN datagrams to (overlay networks). Unset: the
   * host address when that is a non-loopback IPv4 address, else none (no overlay spans this host).
   */
  MUELLE_UNDERLAY_ADDRESS: z.ipv4().optional(),
  /** UDP port of VXLAN between hosts (the IANA port by default); the same on every host. */
  MUELLE_VXLAN_PORT: port(4789),
  /** How often the overlay forwarding is checked against the platform's record, besides container events. */
  MUELLE_OVERLAY_RECONCILE_SECONDS: seconds(10),
  /** How often the routing mesh's rules are checked against the platform's record, besides container and health events. */
  MUELLE_MESH_RECONCILE_SECONDS: seconds(5),
  MUELLE_HOST_LABELS: labels.default({}),
  MUELLE_HEARTBEAT_SECONDS: seconds(5),
  /** Registry for image references without a registry host. */
  MUELLE_REGISTRY_ADDRESS: registryAddress.default('127.0.0.1:5000'),
  ...trustTlsShape,
  MUELLE_BRIDGE_NAME: z.string().regex(/^[a-z0-9-]{1,15}$/).default('muelle0'),
  /** Unset: metadata's address manager grants this host a /24 of 10.89.0.0/16 (network/bridge-subnet.ts). */
  MUELLE_BRIDGE_SUBNET: z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/).optional(),
  /** Which firewall applies the container network rules: `auto` prefers nftables, else iptables. */
  MUELLE_NETWORK_FIREWALL: z.enum(['auto', 'nftables', 'iptables']).default('auto'),
  /**
   * Where the networks' resolvers send names that are not the platform's: `ip[:port]`, comma
   * separated (empty: nowhere, such questions are refused); unset: the host's /etc/resolv.conf.
   */
  MUELLE_DNS_UPSTREAM: z
    .string()
    .regex(/^(\s*\d+\.\d+\.\d+\.\d+(:\d{1,5})?\s*(,|$))*$/, 'comma-separated ip[:port]')
    .optional(),
  MUELLE_LOG_MAX_BYTES: z.coerce.number().int().min(4096).default(10 * 1024 * 1024),
  MUELLE_LOG_MAX_FILES: z.coerce.number().int().min(1).max(100).default(3),
  /** `disabled` answers every container request with UNAVAILABLE (hosts without root). */
  MUELLE_RUNTIME: z.enum(['linux', 'disabled']).default('linux'),
};
export const agentConfigSchema = z.object({ ...agentConfigShape, NATS_URL: natsUrl });
export type AgentConfig = z.output<z.ZodObject<typeof agentConfigShape>>;

/** MUELLE_UNDERLAY_ADDRESS, else the host address if it is a non-loopback IPv4 address, else null. */
export function underlayAddressOf(config: Pick<AgentConfig, 'MUELLE_UNDERLAY_ADDRESS' | 'MUELLE_HOST_ADDRESS'>): string | null {
  if (config.MUELLE_UNDERLAY_ADDRESS) return config.MUELLE_UNDERLAY_ADDRESS;
  const host = config.MUELLE_HOST_ADDRESS;
  return z.ipv4().safeParse(host).success && !host.startsWith('127.') ? host : null;
}
