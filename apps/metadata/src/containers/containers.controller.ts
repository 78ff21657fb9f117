import { Controller } from '@nestjs/common';
import { HandleEvent, HandleRequest } from '@muelle/bus';
import {
  containerHealthChanged,
  ContainerHealthChange,
  connectContainerNetwork,
  containerStateChanged,
  disconnectContainerNetwork,
  ContainerStateChange,
  deleteContainerRecord,
  getContainer,
  hostUsage,
  listContainers,
  ParsedRequestOf,
  reassignContainer,
  reassignContainers,
  renameContainer,
  recordContainer,
} from '@muelle/contracts';
import { ContainersService } from './containers.service';

@Controller()
export class ContainersController {
  constructor(private readonly containers: ContainersService) {}

  @HandleRequest(recordContainer)
  create(request: ParsedRequestOf<typeof recordContainer>) {
    return this.containers.create(request);
  }

  @HandleRequest(getContainer)
  get(request: ParsedRequestOf<typeof getContainer>) {
    return this.containers.get(request.ref, request.teamId);
  }

  @HandleRequest(listContainers)
  list(request: ParsedRequestOf<typeof listContainers>) {
    return this.containers.list(request);
  }

  @HandleRequest(deleteContainerRecord)
  async delete(request: ParsedRequestOf<typeof deleteContainerRecord>) {
    return { deleted: await this.containers.delete(request.id) };
  }

  @HandleRequest(reassignContainer)
  reassign(request: ParsedRequestOf<typeof reassignContainer>) {
    return this.containers.reassign(request);
  }

  @HandleRequest(reassignContainers)
  reassignMany(request: ParsedRequestOf<typeof reassignContainers>) {
    return this.containers.reassignMany(request);
  }

  @HandleRequest(renameContainer)
  rename(request: ParsedRequestOf<typeof renameContainer>) {
    return this.containers.rename(request.id, request.name);
  }

  @HandleRequest(connectContainerNetwork)
  connectNetwork(request: ParsedRequestOf<typeof connectContainerNetwork>) {
    return this.containers.connectNetwork(request.id, request.network);
  }

  @HandleRequest(disconnectContainerNetwork)
  disconnectNetwork(request: ParsedRequestOf<typeof disconnectContainerNetwork>) {
    return this.containers.disconnectNetwork(request.id, request.networkId);
  }

  @HandleRequest(hostUsage)
  usage() {
    return this.containers.usage();
  }

  @HandleEvent(containerHealthChanged)
  healthChanged(event: ContainerHealthChange) {
    return this.containers.recordHealth(event);
  }

  @HandleEvent(containerStateChanged)
  stateChanged(event: ContainerStateChange) {
    return this.containers.recordState(event);
  }
}
