import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { createVolume, deleteVolume, getVolume, listVolumes, ParsedRequestOf } from '@muelle/contracts';
import { VolumesService } from './volumes.service';

@Controller()
export class VolumesController {
  constructor(private readonly volumes: VolumesService) {}

  @HandleRequest(createVolume)
  create(request: ParsedRequestOf<typeof createVolume>) {
    return this.volumes.create(request);
  }

  @HandleRequest(getVolume)
  get(request: ParsedRequestOf<typeof getVolume>) {
    return this.volumes.get(request.teamId, request.name);
  }

  @HandleRequest(listVolumes)
  async list(request: ParsedRequestOf<typeof listVolumes>) {
    return { items: await this.volumes.list(request.teamId) };
  }

  @HandleRequest(deleteVolume)
  async delete(request: ParsedRequestOf<typeof deleteVolume>) {
    return { deleted: await this.volumes.delete(request.teamId, request.name) };
  }
}
