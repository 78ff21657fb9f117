import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { createNetwork, deleteNetwork, getNetwork, listNetworks, networkNames, ParsedRequestOf } from '@muelle/contracts';
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

  @HandleRequest(deleteNetwork)
  async delete(request: ParsedRequestOf<typeof deleteNetwork>) {
    return { deleted: await this.networks.delete(request.id) };
  }

  @HandleRequest(networkNames)
  async networkNames(request: ParsedRequestOf<typeof networkNames>) {
    return { items: await this.names.of(request.networkId) };
  }
}
