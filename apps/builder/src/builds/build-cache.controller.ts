import { Controller, Inject } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { listBuildCache, ParsedRequestOf, pruneBuildCache } from '@muelle/contracts';
import { BuildsService } from './builds.service';

/** `listBuildCache` / `pruneBuildCache`: this builder answers for its own cache. */
@Controller()
export class BuildCacheController {
  constructor(@Inject(BuildsService) private readonly builds: BuildsService) {}

  @HandleRequest(listBuildCache)
  async list(request: ParsedRequestOf<typeof listBuildCache>) {
    return { ...this.answering(), entries: await this.builds.cache.list(request.scope) };
  }

  @HandleRequest(pruneBuildCache)
  async prune(request: ParsedRequestOf<typeof pruneBuildCache>) {
    return { ...this.answering(), ...(await this.builds.cache.prune(request)) };
  }

  private answering() {
    const builderId = this.builds.builderId;
    return builderId ? { builderId } : {};
  }
}
