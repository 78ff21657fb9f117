import { z } from 'zod';
import { defineEvent, defineRequest } from '../contract';
import { IsoDate, Labels } from '../common';
import { Cidr, cidrRange } from './cidr';

/** Docker's rule for network names (compose makes `<project>_default`). */
export const NetworkName = z
  .string()
  .max(64)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'letters, digits, _ . and -, starting with a letter or digit, at most 64');

/** A name a container answers to on one network: a DNS name (labels of letters, digits, `_` and `-`). */
export const NetworkAlias = z
  .string()
  .max(128)
  .regex(/^[a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?)*$/, 'a DNS name: labels of letters, digits, _ and -, separated by dots');

/** The modes a container already has on every host; no user-defined network may take these names. */
export const PREDEFINED_NETWORKS: readonly string[] = ['bridge', 'host', 'none', 'default'];

/** `overlay`: one network across hosts; `bridge`: a network on one host at a time (Docker's local scope). */
export const NetworkDriver = z.enum(['overlay', 'bridge']);
export type NetworkDriver = z.infer<typeof NetworkDriver>;

/** Network ids are 64 hex digits, as Docker's; a unique prefix names one too. */
export const NetworkId = z.string().regex(/^[0-9a-f]{64}$/);

/** Smallest network the address manager accepts: a /29 still leaves 5 container addresses. */
export const MAX_NETWORK_PREFIX = 29;
export const MIN_NETWORK_PREFIX = 8;

export const NetworkRecord = z.object({
  id: NetworkId,
  name: NetworkName,
  teamId: z.string().uuid().nullable(),
  driver: NetworkDriver,
  subnet: Cidr,
  gateway: z.string(),
  /** No route out of the network (Docker's `--internal`). */
  internal: z.boolean(),
  labels: Labels,
  createdAt: IsoDate,
  /** VXLAN network identifier, unique per network: what keeps networks apart on the wire between hosts. */
  vni: z.number().int().min(1).max(16_777_215),
});
export type NetworkRecord = z.infer<typeof NetworkRecord>;

/**
 * A container's place on a network: the network as metadata recorded it when the container was
 * recorded, and the container's address in it (metadata hands it out, so it is unique across
 * hosts). The api sends id and name only; metadata fills in the rest.
 */
export const NetworkEndpoint = z.object({
  id: NetworkId,
  name: NetworkName,
  driver: NetworkDriver.optional(),
  subnet: Cidr.optional(),
  gateway: z.ipv4().optional(),
  internal: z.boolean().optional(),
  address: z.ipv4().optional(),
  /** More names for the container on this network only (`--network-alias`, Docker's `Aliases`). */
  aliases: z.array(NetworkAlias).max(32).optional(),
});
export type NetworkEndpoint = z.infer<typeof NetworkEndpoint>;

/** An address inside `subnet` that is neither its network nor its broadcast address. */
export function isHostAddressOf(subnet: string, address: string): boolean {
  const range = cidrRange(subnet);
  const host = cidrRange(`${address}/32`);
  return range !== undefined && host !== undefined && host.first > range.first && host.first < range.last;
}

/** What a network is made with, as both the /v1 body and the bus request check it. */
export const NetworkOptions = z.object({
  name: NetworkName.refine((name) => !PREDEFINED_NETWORKS.includes(name), 'bridge, host, none and default are predefined network modes'),
  driver: NetworkDriver,
  /** Checked against every subnet the address manager handed out; otherwise the next free /24 of the network pool. */
  subnet: Cidr.refine((cidr) => {
    const prefix = cidrRange(cidr)?.prefix;
    // A malformed subnet is Cidr's own error; this check speaks only of the prefix.
    return prefix === undefined || (prefix >= MIN_NETWORK_PREFIX && prefix <= MAX_NETWORK_PREFIX);
  }, `the prefix length must be ${MIN_NETWORK_PREFIX}..${MAX_NETWORK_PREFIX}`).optional(),
  /** Defaults to the subnet's first address. */
  gateway: z.ipv4().optional(),
  internal: z.boolean().default(false),
  labels: Labels.default({}),
});

/** A gateway only with its subnet, and inside it. */
export const gatewayInSubnet: [(r: { subnet?: string; gateway?: string }) => boolean, { message: string; path: string[] }] = [
  (r) => r.gateway === undefined || (r.subnet !== undefined && isHostAddressOf(r.subnet, r.gateway)),
  { message: 'a gateway needs a subnet and must be an address inside it', path: ['gateway'] },
];

export const CreateNetworkRequest = NetworkOptions.extend({ teamId: z.string().uuid().nullable() }).refine(...gatewayInSubnet);

const teamFilter = { teamId: z.string().uuid().nullable().optional() };

/**
 * A team's network with a subnet from the address manager (no overlap with any host bridge or
 * other network). CONFLICT when the team already has a network of that name, or the subnet is taken.
 */
export const createNetwork = defineRequest('muelle.metadata.networks.create.v1', CreateNetworkRequest, NetworkRecord);

/** By id, unique id prefix or name (within `teamId` when given). */
export const getNetwork = defineRequest('muelle.metadata.networks.get.v1', z.object({ ref: z.string().min(1).max(128), ...teamFilter }), NetworkRecord);

export const listNetworks = defineRequest('muelle.metadata.networks.list.v1', z.object({ ...teamFilter }), z.object({ items: z.array(NetworkRecord) }));

/** Deletes the record and gives its subnet back to the address manager. */
export const deleteNetwork = defineRequest('muelle.metadata.networks.delete.v1', z.object({ id: NetworkId }), z.object({ deleted: z.boolean() }));

/**
 * A network's record was deleted (sent by the api after `deleteNetwork`): every agent takes the
 * network's bridge, rule tables, VXLAN device and resolver off its host. An agent that misses it
 * catches up on its periodic overlay pass (metadata no longer lists the network).
 */
export const networkRemoved = defineEvent('muelle.api.networks.removed.v1', z.object({ id: NetworkId }));

/** A container of an overlay network running on another host: where its frames go. */
export const OverlayPeer = z.object({
  containerId: z.string().regex(/^[0-9a-f]{64}$/),
  hostId: z.string().min(1).max(63),
  /** The other host's registered underlay address (the VXLAN tunnel's far end). */
  underlayAddress: z.ipv4(),
  /** The container's address on the network. */
  address: z.ipv4(),
});
export type OverlayPeer = z.infer<typeof OverlayPeer>;

export const OverlayPeersReply = z.object({
  /** Underlay addresses of every registered host but the asking one: the only senders of VXLAN datagrams it accepts. */
  hosts: z.array(z.ipv4()),
  networks: z.array(z.object({ id: NetworkId, vni: NetworkRecord.shape.vni, peers: z.array(OverlayPeer) })),
});
export type OverlayPeersReply = z.infer<typeof OverlayPeersReply>;

/**
 * For the agent of `hostId`: each of `networkIds` that is an overlay network, with its VNI and the
 * running containers on it on other hosts that registered an underlay address (the platform's
 * record of where each container runs). Unknown or bridge-driver networks are left out.
 */
export const overlayPeers = defineRequest(
  'muelle.metadata.networks.overlay-peers.v1',
  z.object({ hostId: z.string().min(1).max(63), networkIds: z.array(NetworkId).max(1024) }),
  OverlayPeersReply,
);
