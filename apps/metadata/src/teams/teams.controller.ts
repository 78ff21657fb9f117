import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { createTeam, createUser, getPrincipal, listTeams, ParsedRequestOf, setHostCordoned } from '@muelle/contracts';
import { TeamsService } from './teams.service';

@Controller()
export class TeamsController {
  constructor(private readonly teams: TeamsService) {}

  @HandleRequest(createTeam)
  create(request: ParsedRequestOf<typeof createTeam>) {
    return this.teams.createTeam(request.name);
  }

  @HandleRequest(listTeams)
  async list() {
    return { items: await this.teams.listTeams() };
  }

  @HandleRequest(createUser)
  createUser(request: ParsedRequestOf<typeof createUser>) {
    return this.teams.createUser(request);
  }

  @HandleRequest(getPrincipal)
  principal(request: ParsedRequestOf<typeof getPrincipal>) {
    return this.teams.principal(request.userId);
  }

  @HandleRequest(setHostCordoned)
  cordon(request: ParsedRequestOf<typeof setHostCordoned>) {
    return this.teams.setCordoned(request.id, request.cordoned);
  }
}
