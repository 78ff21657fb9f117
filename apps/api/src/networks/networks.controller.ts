import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { ConnectNetworkBody, CreateNetworkBody, DisconnectNetworkBody } from './networks.schemas';
import { NetworkConnections } from './network-connections';
import { NetworksService } from './networks.service';

/** Thin HTTP shell over NetworksService. */
@Controller('v1/networks')
@UseGuards(AuthGuard)
export class NetworksController {
  constructor(
    private readonly networks: NetworksService,
    private readonly connections: NetworkConnections,
  ) {}

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

  @Post(':ref/connect')
  @HttpCode(200)
  connect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown) {
    return this.connections.connect(principal, ref, parseRequest(ConnectNetworkBody, body));
  }

  @Post(':ref/disconnect')
  @HttpCode(200)
  disconnect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown) {
    return this.connections.disconnect(principal, ref, parseRequest(DisconnectNetworkBody, body));
  }

  @Delete(':ref')
  async remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    const removed = await this.networks.remove(principal, ref);
    return { removed: removed.id };
  }
}
