import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { acquireLease, createService, deleteService, drainTasks, getService, listServices, meshRecord, ParsedRequestOf, updateService } from '@muelle/contracts';
import { ServicesService } from './services.service';

@Controller()
export class ServicesController {
  constructor(private readonly services: ServicesService) {}

  @HandleRequest(createService)
  create(request: ParsedRequestOf<typeof createService>) {
    return this.services.create(request);
  }

  @HandleRequest(getService)
  get(request: ParsedRequestOf<typeof getService>) {
    return this.services.get(request.ref, request.teamId);
  }

  @HandleRequest(listServices)
  async list(request: ParsedRequestOf<typeof listServices>) {
    return { items: await this.services.list(request.teamId) };
  }

  @HandleRequest(updateService)
  update(request: ParsedRequestOf<typeof updateService>) {
    return this.services.update(request);
  }

  @HandleRequest(deleteService)
  async delete(request: ParsedRequestOf<typeof deleteService>) {
    return { deleted: await this.services.delete(request.id) };
  }

  @HandleRequest(meshRecord)
  mesh() {
    return this.services.mesh();
  }

  @HandleRequest(drainTasks)
  drain(request: ParsedRequestOf<typeof drainTasks>) {
    return this.services.drain(request);
  }

  @HandleRequest(acquireLease)
  acquireLease(request: ParsedRequestOf<typeof acquireLease>) {
    return this.services.acquireLease(request.name, request.holder, request.ttlMs);
  }
}
