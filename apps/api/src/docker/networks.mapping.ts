import { InvalidArgumentError, NetworkAlias, NetworkRecord } from '@muelle/contracts';
import { z } from 'zod';
import { ConnectNetworkBody, CreateNetworkBody, DisconnectNetworkBody } from '../networks/networks.schemas';
import { refuseUnimplementedEndpointOptions } from './containers.refusals';
import { parseRequest } from '../http/validation';
import { NotSupportedByMuelleError } from './errors';

/** A container attached to a network, as Docker's network inspect lists it. */
export interface NetworkEndpoint {
  containerId: string;
  name: string;
  macAddress: string;
  ipv4Address: string;
}

const IpamPool = z.object({ Subnet: z.string().nullish(), Gateway: z.string().nullish(), IPRange: z.string().nullish(), AuxiliaryAddresses: z.record(z.string(), z.string()).nullish() }).passthrough();

/** The create body docker, docker-py and compose send; unknown fields are checked by `refuseNetworkOptions`. */
export const DockerNetworkCreateBody = z
  .object({
    Name: z.string(),
    Driver: z.string().nullish(),
    Internal: z.boolean().nullish(),
    Attachable: z.boolean().nullish(),
    Ingress: z.boolean().nullish(),
    EnableIPv6: z.boolean().nullish(),
    CheckDuplicate: z.boolean().nullish(),
    Scope: z.string().nullish(),
    ConfigOnly: z.boolean().nullish(),
    ConfigFrom: z.object({ Network: z.string().nullish() }).nullish(),
    Options: z.record(z.string(), z.string()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
    IPAM: z.object({ Driver: z.string().nullish(), Config: z.array(IpamPool).nullish(), Options: z.record(z.string(), z.string()).nullish() }).nullish(),
  })
  .passthrough();
export type DockerNetworkCreateBody = z.output<typeof DockerNetworkCreateBody>;

const KNOWN = new Set(['Name', 'Driver', 'Internal', 'Attachable', 'Ingress', 'EnableIPv6', 'CheckDuplicate', 'Scope', 'ConfigOnly', 'ConfigFrom', 'Options', 'Labels', 'IPAM']);
const nonEmpty = (value: Record<string, unknown> | null | undefined) => !!value && Object.keys(value).length > 0;

/**
 * Docker's `POST /networks/create` → Muelle's create body. What Muelle does not implement is a 400
 * naming the option (IPv6, IPAM drivers and options, driver options, ingress, config-only
 * networks, several subnets, IP ranges); `Attachable` is what every Muelle network is anyway, and
 * names are always unique per team, as `CheckDuplicate` asks.
 */
export function toMuelleNetwork(raw: unknown): CreateNetworkBody {
  const body = parseRequest(DockerNetworkCreateBody, raw);
  for (const key of Object.keys(body)) if (!KNOWN.has(key)) throw new NotSupportedByMuelleError(`the network option ${key}`, 400);
  const refuse = (what: string) => {
    throw new NotSupportedByMuelleError(what, 400);
  };
  if (body.EnableIPv6) refuse('IPv6 (--ipv6)');
  if (body.Ingress) refuse('an ingress network (--ingress)');
  if (body.ConfigOnly || body.ConfigFrom?.Network) refuse('a config-only network (--config-only, --config-from)');
  if (nonEmpty(body.Options)) refuse(`the network driver option ${Object.keys(body.Options!)[0]} (--opt)`);
  if (body.Scope && !['local', 'swarm', 'global'].includes(body.Scope)) throw new InvalidArgumentError(`invalid network scope ${body.Scope}`);
  const ipam = body.IPAM ?? {};
  if (ipam.Driver && ipam.Driver !== 'default') refuse(`the IPAM driver ${ipam.Driver} (--ipam-driver)`);
  if (nonEmpty(ipam.Options)) refuse('IPAM options (--ipam-opt)');
  const pools = ipam.Config ?? [];
  if (pools.length > 1) refuse('more than one subnet per network');
  const pool = pools[0];
  if (pool?.IPRange) refuse('an IP range (--ip-range)');
  if (nonEmpty(pool?.AuxiliaryAddresses)) refuse('auxiliary addresses (--aux-address)');
  if (pool?.Subnet?.includes(':')) refuse('IPv6 (an IPv6 subnet)');
  const driver = body.Driver || 'bridge';
  if (driver !== 'bridge' && driver !== 'overlay') refuse(`the network driver ${driver} (Muelle has bridge and overlay)`);
  return parseRequest(CreateNetworkBody, {
    name: body.Name,
    driver,
    ...(pool?.Subnet && { subnet: pool.Subnet }),
    ...(pool?.Gateway && { gateway: pool.Gateway }),
    internal: body.Internal ?? false,
    labels: body.Labels ?? {},
  });
}

/** Docker's network object (`GET /networks`, `GET /networks/{id}`). */
export function toDockerNetwork(network: NetworkRecord, endpoints: readonly NetworkEndpoint[] = []) {
  return {
    Name: network.name,
    Id: network.id,
    Created: network.createdAt,
    Scope: network.driver === 'overlay' ? 'swarm' : 'local',
    Driver: network.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: network.subnet, Gateway: network.gateway }] },
    Internal: network.internal,
    Attachable: true,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(
      endpoints.map((e) => [e.containerId, { Name: e.name, EndpointID: '', MacAddress: e.macAddress, IPv4Address: e.ipv4Address, IPv6Address: '' }]),
    ),
    // Docker names an overlay network's VNI the same way.
    Options: network.driver === 'overlay' ? { 'com.docker.network.driver.overlay.vxlanid_list': String(network.vni) } : {},
    Labels: network.labels,
  };
}

/** `GET /networks?filters=`: the filters docker and compose send. */
export function networkFilter(filters: Record<string, string[]>): (network: NetworkRecord) => boolean {
  for (const key of Object.keys(filters)) if (!['name', 'id', 'label', 'driver', 'scope', 'type'].includes(key)) throw new NotSupportedByMuelleError(`the networks filter ${key}`, 400);
  return (network) => {
    if (filters.name && !filters.name.some((name) => network.name.includes(name))) return false;
    if (filters.id && !filters.id.some((id) => network.id.startsWith(id))) return false;
    if (filters.driver && !filters.driver.includes(network.driver)) return false;
    if (filters.scope && !filters.scope.includes(network.driver === 'overlay' ? 'swarm' : 'local')) return false;
    // Every Muelle network is user-defined ("custom"); the predefined modes are not listed.
    if (filters.type && !filters.type.includes('custom')) return false;
    if (filters.label && !filters.label.every((label) => hasLabel(network.labels, label))) return false;
    return true;
  };
}

function hasLabel(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  return eq < 0 ? filter in labels : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

/** `POST /networks/{id}/connect` and `/disconnect` bodies (docker CLI, docker-py, compose). */
const ConnectBody = z.object({ Container: z.string().nullish(), EndpointConfig: z.record(z.string(), z.unknown()).nullish() }).strict();
const DisconnectBody = z.object({ Container: z.string().nullish(), Force: z.boolean().nullish() }).strict();

/** The container as dockerd wants it named (its own message for an empty one). */
function containerOf(container: string | null | undefined): string {
  if (!container) throw new InvalidArgumentError(`invalid name or ID supplied: ${JSON.stringify(container ?? '')}`);
  return container;
}

/** Docker's connect body as Muelle's: `Aliases` kept, any other endpoint option set is a 400 naming it (a static IP, links, driver options…). */
export function toMuelleConnect(body: unknown): ConnectNetworkBody {
  const parsed = parseDockerBody(ConnectBody, body);
  refuseUnimplementedEndpointOptions(parsed.EndpointConfig);
  const aliases = z.array(NetworkAlias).max(32).nullish().safeParse(parsed.EndpointConfig?.Aliases);
  if (!aliases.success) throw new InvalidArgumentError(`EndpointConfig.Aliases: ${aliases.error.issues[0]?.message ?? 'a list of names'}`);
  return { container: containerOf(parsed.Container), aliases: aliases.data ?? [] };
}

export function toMuelleDisconnect(body: unknown): DisconnectNetworkBody {
  const parsed = parseDockerBody(DisconnectBody, body);
  return { container: containerOf(parsed.Container), force: parsed.Force === true };
}

function parseDockerBody<T extends z.ZodTypeAny>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') throw new NotSupportedByMuelleError(`the field ${issue.keys.join(', ')}`, 400);
  throw new InvalidArgumentError(`${issue.path.join('.') || 'body'}: ${issue.message}`);
}
