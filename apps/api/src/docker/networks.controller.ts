import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { NetworksService } from '../networks/networks.service';
import { NetworkConnections } from '../networks/network-connections';
import { DockerErrorFilter, NotSupportedByMuelleError, withDockerStatus } from './errors';
import { networkFilter, toDockerNetwork, toMuelleConnect, toMuelleDisconnect, toMuelleNetwork } from './networks.mapping';
import { parseFilters } from './system.controller';

/** Docker's `/networks` routes over the same NetworksService as `/v1/networks`. */
@Controller('docker-engine/networks')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerNetworksController {
  constructor(
    private readonly networks: NetworksService,
    private readonly connections: NetworkConnections,
  ) {}

  @Get()
  async list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const wanted = networkFilter(parseFilters(query.filters));
    return (await this.networks.list(principal)).filter(wanted).map((n) => toDockerNetwork(n));
  }

  @Post('create')
  @HttpCode(201)
  async create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    const network = await this.networks.create(principal, toMuelleNetwork(body));
    return { Id: network.id, Warning: '' };
  }

  @Post('prune')
  @HttpCode(200)
  async prune(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const filters = parseFilters(query.filters);
    for (const key of Object.keys(filters)) if (key !== 'label') throw new NotSupportedByMuelleError(`the network prune filter ${key}`, 400);
    const unused = (await this.networks.list(principal)).filter(networkFilter(filters));
    const deleted: string[] = [];
    for (const network of unused) {
      await this.networks.remove(principal, network.id);
      deleted.push(network.name);
    }
    return { NetworksDeleted: deleted };
  }

  /** dockerd 20.10: an already connected container is 403 ("endpoint with name … already exists in network …"). */
  @Post(':ref/connect')
  @HttpCode(200)
  async connect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown) {
    await withDockerStatus(this.connections.connect(principal, ref, toMuelleConnect(body)), { CONFLICT: 403 });
  }

  /** dockerd 20.10 answers a container that is not connected with 500 ("container … is not connected to network …"). */
  @Post(':ref/disconnect')
  @HttpCode(200)
  async disconnect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown) {
    await withDockerStatus(this.connections.disconnect(principal, ref, toMuelleDisconnect(body)), { CONFLICT: 500 });
  }

  @Get(':ref')
  async inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return toDockerNetwork(await this.networks.get(principal, ref));
  }

  @Delete(':ref')
  @HttpCode(204)
  async remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    await this.networks.remove(principal, ref);
  }
}
