import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { ndjsonProgress } from '../http/ndjson';
import { parseRequest } from '../http/validation';
import { BuildQuery, ListBuildsQuery, PruneBuildCacheBody } from './builds.schemas';
import { BuildCacheService, pruneOptionsOf } from './build-cache.service';
import { BuildsService } from './builds.service';
import { untaggedBuildTag } from '../images/image-catalog';
import { ImagesService } from '../images/images.service';
import { requireTarContext } from '../http/tar-context';

@Controller('v1/builds')
@UseGuards(AuthGuard)
export class BuildsController {
  constructor(
    private readonly builds: BuildsService,
    private readonly images: ImagesService,
    private readonly buildCache: BuildCacheService,
  ) {}

  /** Body: the context tar. Answers NDJSON: progress events, then `{status:"done", …result}` or `{error}`. */
  @Post()
  async build(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    const options = parseRequest(BuildQuery, query, 'query');
    const tags = options.t.map((tag, index) => this.images.parse(tag, `query.t.${index}`));
    // Without -t the image still needs a home in the registry: its id can then be tagged or run.
    if (!tags.length) tags.push(untaggedBuildTag(principal, this.images.registryAddress));
    const request = {
      tags,
      dockerfile: options.dockerfile,
      buildArgs: Object.fromEntries(options.buildarg.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
      target: options.target,
      noCache: options.nocache,
      network: 'none' as const,
    };
    const context = await requireTarContext(req);
    await ndjsonProgress(res, (line) => this.builds.build(principal, context, request, line));
  }

  /** The caller's team's builds (admins: every team's), newest first. */
  @Get()
  list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    return this.builds.list(principal, parseRequest(ListBuildsQuery, query, 'query'));
  }

  /** The build cache of the caller's team (admins: every scope), with in-use marks and sizes. */
  @Get('cache')
  async cache(@CurrentPrincipal() principal: RequestPrincipal) {
    return { entries: await this.buildCache.list(principal) };
  }

  /** Prunes the caller's team's build cache (admins: all); entries a running build uses stay. */
  @Post('cache/prune')
  @HttpCode(200)
  pruneCache(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    const options = parseRequest(PruneBuildCacheBody, body ?? {}, 'body');
    return this.buildCache.prune(principal, pruneOptionsOf(options.all, options.keepStorage, options.until === undefined ? {} : { until: [options.until] }));
  }

  @Get(':id')
  get(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string) {
    return this.builds.get(principal, id);
  }
}
