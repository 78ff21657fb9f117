import { Controller, Get, Param, Put, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { receiveArchive, sendArchive } from './archive-http';
import { ContainerArchives } from './container-archives';
import { ArchiveQuery, PutArchiveQuery } from './containers.schemas';

/** `muelle cp`: the same tars as Docker's archive routes, under /v1. */
@Controller('v1/containers')
@UseGuards(AuthGuard)
export class ContainerArchiveController {
  constructor(private readonly archives: ContainerArchives) {}

  /** What the path names inside the container (Docker's path stat). */
  @Get(':ref/archive/stat')
  stat(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    return this.archives.stat(principal, ref, parseRequest(ArchiveQuery, query, 'query').path);
  }

  @Get(':ref/archive')
  async get(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown, @Res() res: Response) {
    await sendArchive(this.archives, principal, ref, parseRequest(ArchiveQuery, query, 'query').path, res);
  }

  @Put(':ref/archive')
  async put(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    await receiveArchive(this.archives, principal, ref, parseRequest(PutArchiveQuery, query, 'query'), req);
    res.status(200).json({});
  }
}
