import { Controller, Get, Head, Param, Put, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { encodePathStat, PATH_STAT_HEADER, receiveArchive, sendArchive } from '../containers/archive-http';
import { ContainerArchives } from '../containers/container-archives';
import { ArchiveQuery, PutArchiveQuery } from '../containers/containers.schemas';
import { parseRequest } from '../http/validation';
import { DockerErrorFilter } from './errors';

/** `docker cp`: HEAD (path stat), GET (tar out) and PUT (tar in) of `/containers/{id}/archive`; `docker export`. */
@Controller('docker-engine/containers')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerArchiveController {
  constructor(private readonly archives: ContainerArchives) {}

  @Head(':ref/archive')
  async stat(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown, @Res() res: Response) {
    const stat = await this.archives.stat(principal, ref, parseRequest(ArchiveQuery, query, 'query').path);
    res.status(200).setHeader(PATH_STAT_HEADER, encodePathStat(stat));
    res.end();
  }

  @Get(':ref/archive')
  async get(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown, @Res() res: Response) {
    await sendArchive(this.archives, principal, ref, parseRequest(ArchiveQuery, query, 'query').path, res);
  }

  /** `docker export`: the container's whole file system as a tar (its root, as `docker cp c:/. -` gives it). */
  @Get(':ref/export')
  async export(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Res() res: Response) {
    await sendArchive(this.archives, principal, ref, '/.', res);
  }

  @Put(':ref/archive')
  async put(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    await receiveArchive(this.archives, principal, ref, parseRequest(PutArchiveQuery, query, 'query'), req);
    res.status(200).end();
  }
}
