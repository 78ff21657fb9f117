import { Controller, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { toMuelleError } from '@muelle/contracts';
import { httpStatusOf } from '@muelle/service-kit';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { BuildQuery } from './builds.schemas';
import { BuildsService } from './builds.service';

@Controller('v1/builds')
@UseGuards(AuthGuard)
export class BuildsController {
  constructor(private readonly builds: BuildsService) {}

  /** Body: the context tar. Answers NDJSON: progress events, then `{status:"done", …result}` or `{error}`. */
  @Post()
  async build(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    const options = parseRequest(BuildQuery, query, 'query');
    let started = false;
    const line = (value: unknown) => {
      if (!started) {
        started = true;
        res.status(200).type('application/x-ndjson');
        res.flushHeaders();
      }
      res.write(JSON.stringify(value) + '\n');
    };
    try {
      const result = await this.builds.build(principal, req, options, line);
      line({ status: 'done', ...result });
      res.end();
    } catch (error) {
      const typed = toMuelleError(error);
      if (!started) res.status(httpStatusOf[typed.code]).json({ error: typed.toWire() });
      else {
        line({ error: typed.toWire() });
        res.end();
      }
    }
  }
}
