import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { VolumesService } from '../volumes/volumes.service';
import { DockerErrorFilter, NotSupportedByMuelleError } from './errors';
import { parseFilters } from './system.controller';
import { toDockerVolume, toMuelleVolume, volumeFilter } from './volumes.mapping';

/** Docker's `/volumes` routes over the same VolumesService as `/v1/volumes`. */
@Controller('docker-engine/volumes')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerVolumesController {
  constructor(private readonly volumes: VolumesService) {}

  @Get()
  async list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const wanted = volumeFilter(parseFilters(query.filters));
    return { Volumes: (await this.volumes.list(principal)).filter(wanted).map(toDockerVolume), Warnings: null };
  }

  @Post('create')
  @HttpCode(201)
  async create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return toDockerVolume(await this.volumes.create(principal, toMuelleVolume(body)));
  }

  /**
   * The caller's team's unused volumes with the `label` filter's labels: anonymous ones only unless
   * `all` (API 1.42+, which Muelle speaks: docker CLI 23+ sends `all` for `-a`). Sizes are not
   * measured (SpaceReclaimed 0).
   */
  @Post('prune')
  @HttpCode(200)
  async prune(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const filters = parseFilters(query.filters);
    for (const key of Object.keys(filters)) if (key !== 'label' && key !== 'all') throw new NotSupportedByMuelleError(`the volume prune filter ${key}`, 400);
    const all = (filters.all ?? []).some((v) => v === 'true' || v === '1');
    return { VolumesDeleted: await this.volumes.prune(principal, filters.label ?? [], !all), SpaceReclaimed: 0 };
  }

  @Get(':name')
  async inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('name') name: string) {
    return toDockerVolume(await this.volumes.get(principal, name));
  }

  /** `force` only skips "no such volume" in Docker; a volume in use is refused either way, as there. */
  @Delete(':name')
  @HttpCode(204)
  async remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('name') name: string, @Query('force') force?: string) {
    try {
      await this.volumes.remove(principal, name);
    } catch (error) {
      const missing = error instanceof Error && 'code' in error && error.code === 'NOT_FOUND';
      // `docker volume rm -f` of a missing volume succeeds, as dockerd's does.
      if (!(missing && (force === '1' || force === 'true'))) throw error;
    }
  }
}
