import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { createNetwork, deleteNetwork, getNetwork, listNetworks, networkNames, overlayPeers, ParsedRequestOf } from '@muelle/contracts';
import { NetworkNames } from './network-names';
import { NetworksService } from './networks.service';

@Controller()
export class NetworksController {
  constructor(
    private readonly networks: NetworksService,
    private readonly names: NetworkNames,
  ) {}

  @HandleRequest(createNetwork)
  create(request: ParsedRequestOf<typeof createNetwork>) {
    return this.networks.create(request);
  }

  @HandleRequest(getNetwork)
  get(request: ParsedRequestOf<typeof getNetwork>) {
    return this.networks.get(request.ref, request.teamId);
  }

  @HandleRequest(listNetworks)
  async list(request: ParsedRequestOf<typeof listNetworks>) {
    return { items: await this.networks.list(request.teamId) };
  }

  /** Asked by each agent on container events and periodically, to program its VXLAN forwarding. */
  @HandleRequest(overlayPeers)
  peers(request: ParsedRequestOf<typeof overlayPeers>) {
    return this.networks.overlayPeers(request.hostId, request.networkIds);
  }

  @HandleRequest(deleteNetwork)
  async delete(request: ParsedRequestOf<typeof deleteNetwork>) {
    return { deleted: await this.networks.delete(request.id) };
  }

  @HandleRequest(networkNames)
  async networkNames(request: ParsedRequestOf<typeof networkNames>) {
    return { items: await this.names.of(request.networkId) };
  }
}
