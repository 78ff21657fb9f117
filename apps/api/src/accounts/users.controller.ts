import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { Password } from '@muelle/contracts';
import type { Request } from 'express';
import { z } from 'zod';
import { AuthGuard, clientAddressOf, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { AccountsService } from './accounts.service';

export const ListUsersQuery = z.object({ team: z.string().uuid().optional() });
export const SetPasswordBody = z.object({
  password: Password,
  /** Required when changing one's own password. */
  currentPassword: z.string().min(1).max(1024).optional(),
});
const UserRef = z.string().min(1).max(64);

/** `/v1/users`: list, show, disable/enable, passwords. (Creating users stays with the tenancy routes.) */
@Controller('v1/users')
@UseGuards(AuthGuard)
export class UsersController {
  constructor(private readonly accounts: AccountsService) {}

  @Get()
  async list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    return { items: await this.accounts.listUsers(principal, parseRequest(ListUsersQuery, query, 'query').team) };
  }

  @Get(':user')
  get(@CurrentPrincipal() principal: RequestPrincipal, @Param('user') user: string) {
    return this.accounts.getUser(principal, parseRequest(UserRef, user, 'path'));
  }

  @Post(':user/disable')
  @HttpCode(200)
  disable(@CurrentPrincipal() principal: RequestPrincipal, @Param('user') user: string) {
    return this.accounts.setDisabled(principal, parseRequest(UserRef, user, 'path'), true);
  }

  @Post(':user/enable')
  @HttpCode(200)
  enable(@CurrentPrincipal() principal: RequestPrincipal, @Param('user') user: string) {
    return this.accounts.setDisabled(principal, parseRequest(UserRef, user, 'path'), false);
  }

  @Post(':user/password')
  @HttpCode(200)
  password(@CurrentPrincipal() principal: RequestPrincipal, @Param('user') user: string, @Body() body: unknown, @Req() req: Request) {
    return this.accounts.setPassword(principal, parseRequest(UserRef, user, 'path'), parseRequest(SetPasswordBody, body), clientAddressOf(req));
  }
}
