import { Controller, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { ndjsonProgress } from '../http/ndjson';
import { parseRequest } from '../http/validation';
import { BuildQuery } from './builds.schemas';
import { BuildsService } from './builds.service';
import { requireTarContext } from '../http/tar-context';

@Controller('v1/builds')
@UseGuards(AuthGuard)
export class BuildsController {
  constructor(private readonly builds: BuildsService) {}

  /** Body: the context tar. Answers NDJSON: progress events, then `{status:"done", …result}` or `{error}`. */
  @Post()
  async build(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    const options = parseRequest(BuildQuery, query, 'query');
    const context = await requireTarContext(req);
    await ndjsonProgress(res, (line) => this.builds.build(principal, context, options, line));
  }
}
