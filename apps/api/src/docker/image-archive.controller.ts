import { Controller, Get, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { ImageLoad } from '../images/image-load';
import { ImageSave, sendImageArchive } from '../images/image-save';
import { JsonStream } from './json-stream';
import { DockerErrorFilter } from './errors';

/** `docker save` (`GET /images/get?names=…`, `GET /images/{name}/get`) and `docker load`; registered before the images catch-alls. */
@Controller('docker-engine/images')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerImageArchiveController {
  constructor(
    private readonly saver: ImageSave,
    private readonly loader: ImageLoad,
  ) {}

  /** The answer is Docker's JSON stream (`{"stream": "Loaded image: …\n"}`); errors before it are ordinary replies. */
  @Post('load')
  async load(@CurrentPrincipal() principal: RequestPrincipal, @Req() req: Request, @Res() res: Response) {
    const lines: string[] = [];
    await this.loader.load(principal, req, (line) => lines.push(line));
    res.status(200).setHeader('Content-Type', 'application/json');
    const stream = new JsonStream(res);
    for (const line of lines) stream.write({ stream: `${line}\n` });
    stream.end();
  }

  @Get('get')
  async saveMany(@CurrentPrincipal() principal: RequestPrincipal, @Query('names') names: string | string[] | undefined, @Res() res: Response) {
    await this.save(principal, ([] as string[]).concat(names ?? []), res);
  }

  @Get('*path/get')
  async saveOne(@CurrentPrincipal() principal: RequestPrincipal, @Req() req: Request, @Res() res: Response) {
    const path = (req.params as unknown as { path: string[] | string }).path;
    await this.save(principal, [Array.isArray(path) ? path.join('/') : path], res);
  }

  private save(principal: RequestPrincipal, names: string[], res: Response): Promise<void> {
    return sendImageArchive(this.saver, principal, names, res);
  }
}
