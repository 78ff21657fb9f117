import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { failInterruptedBuilds, failLostBuild, getBuildRecord, listBuildRecords, ParsedRequestOf, saveBuildRecord } from '@muelle/contracts';
import { BuildRecordsService } from './builds.service';

@Controller()
export class BuildRecordsController {
  constructor(private readonly builds: BuildRecordsService) {}

  @HandleRequest(saveBuildRecord)
  save(request: ParsedRequestOf<typeof saveBuildRecord>) {
    return this.builds.save(request);
  }

  @HandleRequest(getBuildRecord)
  get(request: ParsedRequestOf<typeof getBuildRecord>) {
    return this.builds.get(request);
  }

  @HandleRequest(listBuildRecords)
  list(request: ParsedRequestOf<typeof listBuildRecords>) {
    return this.builds.list(request);
  }

  @HandleRequest(failLostBuild)
  failLost(request: ParsedRequestOf<typeof failLostBuild>) {
    return this.builds.failLost(request);
  }

  @HandleRequest(failInterruptedBuilds)
  failInterrupted(request: ParsedRequestOf<typeof failInterruptedBuilds>) {
    return this.builds.failInterrupted(request);
  }
}
