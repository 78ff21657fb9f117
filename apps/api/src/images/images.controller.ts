import { Body, Controller, Delete, Get, HttpCode, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { ndjsonProgress } from '../http/ndjson';
import { parseRequest } from '../http/validation';
import { ListImagesQuery, PullBody, PushBody, RemoveImageQuery, SaveImagesQuery, TagBody } from './images.schemas';
import { ImageSave, sendImageArchive } from './image-save';
import { ImageLoad } from './image-load';
import { CopyEvent, ImagesService } from './images.service';
import { ImageUsage } from './image-usage';

export const ImageQuery = z.object({ image: z.string().min(1).max(1024) });

export const PruneImagesBody = z
  .object({
    /** Every unused image, not only dangling (unnamed) ones: `-a`. */
    all: z.boolean().default(false),
    /** `k` or `k=v`: only images whose config carries every one. */
    label: z.array(z.string().min(1).max(1024)).max(32).default([]),
  })
  .strict();

/**
 * Image names contain `/` and `:`, so they travel in the query (`?image=`) or body, never the path.
 * Pull and push answer NDJSON progress lines; the last one is `{status:"done",…}` or `{error}`.
 */
@Controller('v1/images')
@UseGuards(AuthGuard)
export class ImagesController {
  constructor(
    private readonly images: ImagesService,
    private readonly saver: ImageSave,
    private readonly loader: ImageLoad,
    private readonly usage: ImageUsage,
  ) {}

  /** `muelle image prune`: the caller's images no container uses (dangling ones unless `all`). */
  @Post('prune')
  @HttpCode(200)
  async prune(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return this.usage.prune(principal, parseRequest(PruneImagesBody, body ?? {}));
  }

  @Get()
  list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    return this.images.list(principal, parseRequest(ListImagesQuery, query, 'query'));
  }

  @Get('inspect')
  inspect(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    return this.images.inspect(principal, parseRequest(ImageQuery, query, 'query').image);
  }

  /** `muelle save`: a docker-archive tar of the images (`?image=a&image=b`). */
  @Get('save')
  async save(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown, @Res() res: Response) {
    await sendImageArchive(this.saver, principal, parseRequest(SaveImagesQuery, query, 'query').image, res);
  }

  /** `muelle load`: the tar body (docker-archive) into Muelle's registry; replies with what was loaded. */
  @Post('load')
  async load(@CurrentPrincipal() principal: RequestPrincipal, @Req() req: Request) {
    const loaded: string[] = [];
    await this.loader.load(principal, req, (line) => loaded.push(line));
    return { loaded };
  }

  @Post('pull')
  pull(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown, @Req() req: Request, @Res() res: Response) {
    const parsed = parseRequest(PullBody, body);
    return progressResponse(req, res, (progress) => this.images.pull(principal, parsed, progress));
  }

  @Post('tag')
  tag(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    const { source, target } = parseRequest(TagBody, body);
    return this.images.tag(principal, source, target);
  }

  @Post('push')
  push(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown, @Req() req: Request, @Res() res: Response) {
    const parsed = parseRequest(PushBody, body);
    return progressResponse(req, res, (progress) => this.images.push(principal, parsed, progress));
  }

  @Delete()
  remove(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    const { image } = parseRequest(ImageQuery, query, 'query');
    return this.images.remove(principal, image, parseRequest(RemoveImageQuery, query, 'query'));
  }
}

/**
 * Without `Accept: application/x-ndjson`: a plain JSON reply (or error) once done. With it:
 * progress lines as they happen; an error after the first line can only be the last line.
 */
async function progressResponse(req: Request, res: Response, work: (progress: (event: CopyEvent) => void) => Promise<unknown>) {
  const streaming = (req.headers.accept ?? '').includes('application/x-ndjson');
  if (!streaming) {
    res.status(200).json(await work(() => undefined));
    return;
  }
  await ndjsonProgress(res, async (line) => (await work(line)) as object);
}
