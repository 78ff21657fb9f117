import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { admitContainerStart, getTeamPolicy, getTeamQuota, ParsedRequestOf, setTeamPolicy, setTeamQuota } from '@muelle/contracts';
import { ContainersService } from '../containers/containers.service';
import { TeamLimitsService } from './team-limits.service';

@Controller()
export class TeamLimitsController {
  constructor(
    private readonly limits: TeamLimitsService,
    private readonly containers: ContainersService,
  ) {}

  @HandleRequest(getTeamPolicy)
  policy(request: ParsedRequestOf<typeof getTeamPolicy>) {
    return this.limits.policy(request.team);
  }

  @HandleRequest(setTeamPolicy)
  setPolicy(request: ParsedRequestOf<typeof setTeamPolicy>) {
    return this.limits.setPolicy(request.team, request.policy);
  }

  @HandleRequest(getTeamQuota)
  quota(request: ParsedRequestOf<typeof getTeamQuota>) {
    return this.limits.quota(request.team);
  }

  @HandleRequest(setTeamQuota)
  setQuota(request: ParsedRequestOf<typeof setTeamQuota>) {
    return this.limits.setQuota(request.team, request.quota);
  }

  @HandleRequest(admitContainerStart)
  async admitStart(request: ParsedRequestOf<typeof admitContainerStart>) {
    await this.containers.admitStart(request.id);
    return { admitted: true as const };
  }
}
