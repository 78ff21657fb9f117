import { Body, Controller, Post, UseGuards } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { createToken } from '@muelle/contracts';
import { z } from 'zod';
import { parseRequest } from '../http/validation';
import { AuthGuard, CurrentPrincipal } from './auth.guard';
import { RequestPrincipal } from './principal';

export const CreateTokenBody = z.object({
  name: z.string().min(1).max(100).default('cli'),
  ttlSeconds: z.number().int().positive().optional(),
});

@Controller('v1/auth/tokens')
@UseGuards(AuthGuard)
export class TokensController {
  constructor(private readonly bus: BusClient) {}

  /** Trades credentials for an API token (what `muelle login` stores). */
  @Post()
  async create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    const parsed = parseRequest(CreateTokenBody, body);
    const token = await this.bus.request(createToken, {
      userId: principal.user.id,
      name: parsed.name,
      ttlSeconds: parsed.ttlSeconds,
    });
    return { ...token, user: principal.user, team: principal.teamName };
  }
}
