import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import {
  authenticateToken,
  authenticateUser,
  createToken,
  getToken,
  getUser,
  listTokens,
  listUsers,
  ParsedRequestOf,
  revokeToken,
  setPassword,
  setUserDisabled,
} from '@muelle/contracts';
import { TokensService } from './tokens.service';
import { UsersService } from './users.service';

@Controller()
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokensService,
  ) {}

  @HandleRequest(authenticateUser)
  authenticate(request: ParsedRequestOf<typeof authenticateUser>) {
    return this.users.authenticate(request.username, request.password, request.clientAddress);
  }

  @HandleRequest(listUsers)
  async list(request: ParsedRequestOf<typeof listUsers>) {
    return { items: await this.users.list(request.teamId) };
  }

  @HandleRequest(getUser)
  get(request: ParsedRequestOf<typeof getUser>) {
    return this.users.get(request.ref);
  }

  @HandleRequest(setUserDisabled)
  setDisabled(request: ParsedRequestOf<typeof setUserDisabled>) {
    return this.users.setDisabled(request.id, request.disabled);
  }

  @HandleRequest(setPassword)
  setPassword(request: ParsedRequestOf<typeof setPassword>) {
    return this.users.setPassword(request.id, request.newPassword, request.currentPassword, request.clientAddress);
  }

  @HandleRequest(authenticateToken)
  authenticateToken(request: ParsedRequestOf<typeof authenticateToken>) {
    return this.tokens.authenticate(request.token);
  }

  @HandleRequest(createToken)
  createToken(request: ParsedRequestOf<typeof createToken>) {
    return this.tokens.create(request);
  }

  @HandleRequest(listTokens)
  async listTokens(request: ParsedRequestOf<typeof listTokens>) {
    return { items: await this.tokens.list(request) };
  }

  @HandleRequest(getToken)
  getToken(request: ParsedRequestOf<typeof getToken>) {
    return this.tokens.get(request.id);
  }

  @HandleRequest(revokeToken)
  revokeToken(request: ParsedRequestOf<typeof revokeToken>) {
    return this.tokens.revoke(request.id);
  }
}
