import { Body, Controller, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { SERVICE_INFO, ServiceInfo } from '@muelle/service-kit';
import { z } from 'zod';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { SystemService } from './system.service';
import { ImageUsage } from '../images/image-usage';
import { ContainersService } from '../containers/containers.service';
import { VolumesService } from '../volumes/volumes.service';
import { BuildCacheService } from '../builds/build-cache.service';

export const PruneBody = z
  .object({
    /** Only what nothing referenced for this long is collected (0: everything unreferenced now). */
    graceSeconds: z.number().int().nonnegative().max(30 * 24 * 3600).default(0),
    /** Only stopped containers carrying these labels (`key` or `key=value`) are removed; images and registry data are pruned regardless. */
    label: z.array(z.string().min(1).max(512)).max(32).default([]),
  })
  // Unknown options (docker's `--volumes`, `until=` filters) are refused, not ignored.
  .strict();

@Controller('v1')
export class SystemController {
  constructor(
    @Inject(SERVICE_INFO) private readonly info: ServiceInfo,
    private readonly system: SystemService,
    private readonly images: ImageUsage,
    private readonly containers: ContainersService,
    private readonly volumes: VolumesService,
    private readonly buildCache: BuildCacheService,
  ) {}

  /** Unauthenticated: lets clients find out they reached a Muelle API and which version. */
  @Get('version')
  version() {
    return { name: 'muelle', version: this.info.version, apiVersion: 'v1' };
  }

  @Post('system/prune')
  @HttpCode(200)
  @UseGuards(AuthGuard)
  prune(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return this.system.prune(principal, parseRequest(PruneBody, body));
  }

  /**
   * `muelle system df`: the images the caller may read (size, containers using each), its
   * containers with their writable layer's bytes and its volumes with their bytes and the
   * containers mounting them, both measured by their hosts (null when a host does not answer),
   * and its team's build cache entries (admins: all) with their layer bytes.
   */
  @Get('system/df')
  @UseGuards(AuthGuard)
  async diskUsage(@CurrentPrincipal() principal: RequestPrincipal) {
    const { images, containers } = await this.images.usage(principal);
    const volumes = await this.volumes.list(principal);
    return {
      images: images.map(({ image, containers: count }) => ({ id: image.id, names: image.repoTags, sizeBytes: image.size, containers: count })),
      containers: await Promise.all(containers.map(async (c) => ({ id: c.id, name: c.name, image: c.image, state: c.state, sizeBytes: (await this.containers.diskUsage(c))?.sizeRw ?? null }))),
      volumes: await Promise.all(volumes.map(async (v) => ({ name: v.name, hostId: v.hostId, sizeBytes: (await this.volumes.diskUsage(v)) ?? null, containers: v.usedBy.length }))),
      buildCache: (await this.buildCache.list(principal)).map((entry) => ({ id: entry.id, description: entry.description, sizeBytes: entry.size, inUse: entry.inUse })),
    };
  }

}
