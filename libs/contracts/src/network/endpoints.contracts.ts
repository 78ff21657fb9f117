import { z } from 'zod';
import { defineEvent, defineRequest } from '../contract';
import { ContainerId, ContainerRecord } from '../containers/container.schemas';
import { NetworkAlias, NetworkEndpoint, NetworkId, NetworkName } from './networks.contracts';

/*
 * `network connect` / `network disconnect` of an existing container (any state). The api checks
 * the caller may (decide()) and resolves the network within the team, metadata changes the
 * record (and hands out the address, as at create), then the container's agent wires or unwires
 * it (`agentContracts(host).connectNetwork`), live when it runs, at its next start otherwise.
 */

/**
 * Adds the network to the container's recorded networks with an address of its own on it (the
 * lowest free one, as at create) and answers the updated record. NOT_FOUND for another team's
 * network; CONFLICT when already connected; INVALID_ARGUMENT past the create-time rules
 * (`ContainerNetworks`: at most 8).
 */
export const connectContainerNetwork = defineRequest(
  'muelle.metadata.containers.networks.connect.v1',
  z.object({ id: ContainerId, network: z.object({ id: NetworkId, name: NetworkName, aliases: z.array(NetworkAlias).max(32).optional() }) }),
  ContainerRecord,
);

/** Takes the network out of the container's recorded networks (its address is free again). CONFLICT when it is not connected. */
export const disconnectContainerNetwork = defineRequest(
  'muelle.metadata.containers.networks.disconnect.v1',
  z.object({ id: ContainerId, networkId: NetworkId }),
  ContainerRecord,
);

/**
 * A container joined or left a network after its start (sent by the api once its agent wired
 * it): every agent reconciles its overlay forwarding from metadata's record, as after a state change.
 */
export const containerNetworksChanged = defineEvent('muelle.api.containers.networks-changed.v1', z.object({ id: ContainerId, networkId: NetworkId }));

/** What the container's agent gets: the endpoint as metadata recorded it (with its address). */
export const ConnectOnHost = z.object({ id: ContainerId, endpoint: NetworkEndpoint });
export const DisconnectOnHost = z.object({ id: ContainerId, networkId: NetworkId });
