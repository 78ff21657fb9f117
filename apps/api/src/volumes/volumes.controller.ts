import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { CreateVolumeBody, PruneVolumesBody } from './volumes.schemas';
import { VolumesService } from './volumes.service';

/** Thin HTTP shell over VolumesService. */
@Controller('v1/volumes')
@UseGuards(AuthGuard)
export class VolumesController {
  constructor(private readonly volumes: VolumesService) {}

  @Post()
  @HttpCode(201)
  create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return this.volumes.create(principal, parseRequest(CreateVolumeBody, body));
  }

  @Get()
  async list(@CurrentPrincipal() principal: RequestPrincipal) {
    return { items: await this.volumes.list(principal) };
  }

  @Post('prune')
  @HttpCode(200)
  async prune(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return { removed: await this.volumes.prune(principal, parseRequest(PruneVolumesBody, body).labels) };
  }

  @Get(':name')
  inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('name') name: string) {
    return this.volumes.get(principal, name);
  }

  @Delete(':name')
  async remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('name') name: string) {
    return { removed: (await this.volumes.remove(principal, name)).name };
  }
}
