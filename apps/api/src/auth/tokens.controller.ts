import { Body, Controller, Post, UseGuards } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { createToken, UserRecord, validateMessage, InvalidArgumentError } from '@muelle/contracts';
import { z } from 'zod';
import { AuthGuard, CurrentUser } from './auth.guard';

const CreateTokenBody = z.object({ name: z.string().min(1).max(100).default('cli'), ttlSeconds: z.number().int().positive().optional() });

@Controller('v1/auth/tokens')
@UseGuards(AuthGuard)
export class TokensController {
  constructor(private readonly bus: BusClient) {}

  /** Trades credentials for an API token (what `muelle login` stores). */
  @Post()
  async create(@CurrentUser() user: UserRecord, @Body() body: unknown) {
    const parsed = parseBody(CreateTokenBody, body ?? {});
    return this.bus.request(createToken, { userId: user.id, name: parsed.name, ttlSeconds: parsed.ttlSeconds });
  }
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  try {
    return validateMessage(schema, body, 'request body');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^invalid request body: /, ''), (error as { details?: unknown }).details);
  }
}
