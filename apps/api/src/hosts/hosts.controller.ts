import { Controller, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { HostsService } from './hosts.service';

export const ListHostsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});

@Controller('v1/hosts')
@UseGuards(AuthGuard)
export class HostsController {
  constructor(private readonly hosts: HostsService) {}

  @Get()
  list(@Query() query: unknown) {
    const { limit, cursor } = parseRequest(ListHostsQuery, query, 'query');
    return this.hosts.list(limit, cursor);
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.hosts.inspect(id);
  }

  @Post(':id/cordon')
  cordon(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string) {
    return this.hosts.setCordoned(principal, id, true);
  }

  @Post(':id/uncordon')
  uncordon(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string) {
    return this.hosts.setCordoned(principal, id, false);
  }

  @Post(':id/drain')
  drain(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string) {
    return this.hosts.drain(principal, id);
  }
}
