import { Controller, Inject, OnModuleDestroy } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { cancelBuild, getBuild, startBuild } from '@muelle/contracts';
import { BuildsService } from './builds.service';

@Controller()
export class BuildsController implements OnModuleDestroy {
  constructor(@Inject(BuildsService) private readonly builds: BuildsService) {}

  @HandleRequest(startBuild)
  start(request: Parameters<BuildsService['start']>[0]) {
    return this.builds.start(request);
  }

  @HandleRequest(getBuild)
  get(request: { buildId: string }) {
    return this.builds.get(request.buildId);
  }

  @HandleRequest(cancelBuild)
  cancel(request: { buildId: string }) {
    return this.builds.cancel(request.buildId);
  }

  async onModuleDestroy() {
    await this.builds.drain();
  }
}
