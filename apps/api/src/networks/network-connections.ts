import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import {
  ConflictError,
  connectContainerNetwork,
  containerNetworksChanged,
  disconnectContainerNetwork,
  InvalidArgumentError,
  NetworkEndpoint,
  PREDEFINED_NETWORKS,
} from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/audit-log';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService } from '../containers/containers.service';
import { ConnectNetworkBody, DisconnectNetworkBody } from './networks.schemas';
import { NetworksService } from './networks.service';

/** What a connect or disconnect did: the container and its place on the network. */
export interface NetworkConnection {
  container: string;
  network: NetworkEndpoint;
}

/**
 * `network connect` / `network disconnect` for /v1 and the Docker API alike. The caller needs
 * `update` on the container and on the network (decide(), through ContainersService.get and
 * NetworksService.endpointsFor: another team's either is a 404); metadata changes the record under
 * the create-time rules (the address from the same manager, at most 8 networks), then the
 * container's agent wires it — live when it runs, at its next start otherwise.
 */
@Injectable()
export class NetworkConnections {
  constructor(
    private readonly bus: BusClient,
    private readonly containers: ContainersService,
    private readonly networks: NetworksService,
    private readonly audit: AuditLog,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async connect(principal: RequestPrincipal, networkRef: string, body: ConnectNetworkBody): Promise<NetworkConnection> {
    refusePredefined(networkRef);
    const record = await this.containers.get(principal, body.container, 'update');
    const [asked] = await this.networks.endpointsFor(principal, [{ network: networkRef, aliases: body.aliases }], record.spec.network);
    const host = this.containers.placedHost(record);
    const updated = await this.bus.request(connectContainerNetwork, { id: record.id, network: asked! });
    const endpoint = updated.spec.networks.find((n) => n.id === asked!.id)!;
    try {
      await this.bus.request(this.containers.agent(host).connectNetwork, { id: record.id, endpoint });
    } catch (error) {
      // The host could not wire it: the record goes back, so the address is free and the names do not answer.
      await this.bus
        .request(disconnectContainerNetwork, { id: record.id, networkId: endpoint.id })
        .catch((undoError) => this.logger.warn({ err: undoError, container: record.id, network: endpoint.id }, 'record of a network its host could not wire not reverted'));
      throw error;
    }
    await this.announce(record.id, endpoint.id);
    await this.audit.record(principal, 'network.connect', `container:${record.id}`, { network: endpoint.name, address: endpoint.address });
    return { container: record.id, network: endpoint };
  }

  /**
   * With `force`, a network the record no longer lists is no error and its host is still told to
   * drop it: the repair for a host left wired by a disconnect whose host step failed.
   */
  async disconnect(principal: RequestPrincipal, networkRef: string, body: DisconnectNetworkBody): Promise<NetworkConnection> {
    refusePredefined(networkRef);
    const record = await this.containers.get(principal, body.container, 'update');
    // The team's network by name or id, as at create (a container on host or none is on no team network).
    const [network] = await this.networks.endpointsFor(principal, [networkRef], 'bridge');
    const host = this.containers.placedHost(record);
    const endpoint = record.spec.networks.find((n) => n.id === network!.id) ?? network!;
    try {
      await this.bus.request(disconnectContainerNetwork, { id: record.id, networkId: network!.id });
    } catch (error) {
      if (!(body.force && error instanceof ConflictError)) throw error;
    }
    await this.bus.request(this.containers.agent(host).disconnectNetwork, { id: record.id, networkId: network!.id });
    await this.announce(record.id, network!.id);
    await this.audit.record(principal, 'network.disconnect', `container:${record.id}`, { network: network!.name, force: body.force });
    return { container: record.id, network: endpoint };
  }

  private async announce(id: string, networkId: string): Promise<void> {
    // Lost: other hosts' overlay forwarding catches up on their next periodic pass.
    await this.bus.emit(containerNetworksChanged, { id, networkId }).catch((error) => this.logger.warn({ err: error, container: id }, 'network change not announced to the hosts'));
  }
}

function refusePredefined(networkRef: string): void {
  if (PREDEFINED_NETWORKS.includes(networkRef))
    throw new InvalidArgumentError(`network ${networkRef} is a network mode chosen when the container is created (--network ${networkRef}); Muelle connects and disconnects user-defined networks only`);
}
