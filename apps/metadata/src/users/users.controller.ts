import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import { authenticateToken, authenticateUser, createToken } from '@muelle/contracts';
import { UsersService } from './users.service';

@Controller()
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @HandleRequest(authenticateUser)
  authenticate(request: { username: string; password: string }) {
    return this.users.authenticate(request.username, request.password);
  }

  @HandleRequest(authenticateToken)
  authenticateToken(request: { token: string }) {
    return this.users.authenticateToken(request.token);
  }

  @HandleRequest(createToken)
  createToken(request: { userId: string; name: string; ttlSeconds?: number }) {
    return this.users.createToken(request.userId, request.name, request.ttlSeconds);
  }
}
