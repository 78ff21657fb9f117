import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { CreateNetworkBody } from './networks.schemas';
import { NetworksService } from './networks.service';

/** Thin HTTP shell over NetworksService. */
@Controller('v1/networks')
@UseGuards(AuthGuard)
export class NetworksController {
  constructor(private readonly networks: NetworksService) {}

  @Post()
  @HttpCode(201)
  create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return this.networks.create(principal, parseRequest(CreateNetworkBody, body));
  }

  @Get()
  async list(@CurrentPrincipal() principal: RequestPrincipal) {
    return { items: await this.networks.list(principal) };
  }

  @Get(':ref')
  inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return this.networks.get(principal, ref);
  }

  @Delete(':ref')
  async remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    const removed = await this.networks.remove(principal, ref);
    return { removed: removed.id };
  }
}
