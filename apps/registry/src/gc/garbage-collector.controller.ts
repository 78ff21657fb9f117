import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { collectRegistryGarbage, ParsedRequestOf, ReplyOf } from '@muelle/contracts';
import { GarbageCollectorService } from './garbage-collector.service';

/** Collections on demand (`muelle system prune`); the api has already checked the caller is an admin. */
@Controller()
export class GarbageCollectorController {
  constructor(private readonly gc: GarbageCollectorService) {}

  @HandleRequest(collectRegistryGarbage)
  async collect(request: ParsedRequestOf<typeof collectRegistryGarbage>): Promise<ReplyOf<typeof collectRegistryGarbage>> {
    const report = await this.gc.run({ graceSeconds: request.graceSeconds, untaggedManifestSeconds: request.untaggedManifests ? request.graceSeconds : null });
    return { deletedManifests: report.deletedManifests, deletedBlobs: report.deletedBlobs.length, purgedUploads: report.purgedUploads, freedBytes: report.freedBytes };
  }
}
