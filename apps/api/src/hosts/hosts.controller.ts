import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { getHost, listHosts } from '@muelle/contracts';
import { z } from 'zod';
import { AuthGuard } from '../auth/auth.guard';
import { parseBody } from '../auth/tokens.controller';

const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), cursor: z.string().max(200).optional() });

@Controller('v1/hosts')
@UseGuards(AuthGuard)
export class HostsController {
  constructor(private readonly bus: BusClient) {}

  @Get()
  list(@Query() query: unknown) {
    return this.bus.request(listHosts, parseBody(ListQuery, query));
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.bus.request(getHost, { id });
  }
}
