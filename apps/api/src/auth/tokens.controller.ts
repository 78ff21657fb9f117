import { Body, Controller, Delete, Get, Param, Post, UseGuards } from '@nestjs/common';
import { RobotName, TokenTtlSeconds } from '@muelle/contracts';
import { z } from 'zod';
import { AccountsService } from '../accounts/accounts.service';
import { parseRequest } from '../http/validation';
import { AuthGuard, CurrentPrincipal } from './auth.guard';
import { RequestPrincipal } from './principal';

export const CreateTokenBody = z
  .object({
    name: z.string().min(1).max(100).default('cli'),
    ttlSeconds: TokenTtlSeconds.optional(),
    /** `repository:alpha/*:pull,push`, `container:read`, … (SECURITY.md § 5). */
    scopes: z.array(z.string().min(1).max(300)).min(1).max(32).optional(),
    /** Team name or id: a robot token owned by that team (needs scopes; its name is the robot's). */
    team: z.string().min(1).max(64).optional(),
  })
  .refine((body) => !body.team || RobotName.safeParse(body.name).success, { path: ['name'], message: 'a robot name: lowercase letters, digits, . _ - (max 64)' });

const TokenId = z.string().uuid('a token id');

@Controller('v1/auth/tokens')
@UseGuards(AuthGuard)
export class TokensController {
  constructor(private readonly accounts: AccountsService) {}

  /** Trades credentials for an API token (what `muelle login` stores), or makes a robot (`team`). */
  @Post()
  create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return this.accounts.createToken(principal, parseRequest(CreateTokenBody, body));
  }

  @Get()
  async list(@CurrentPrincipal() principal: RequestPrincipal) {
    return { items: await this.accounts.listTokens(principal) };
  }

  @Delete(':id')
  revoke(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string) {
    return this.accounts.revokeToken(principal, parseRequest(TokenId, id, 'path'));
  }
}
