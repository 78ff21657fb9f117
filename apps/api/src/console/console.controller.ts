import { Controller, Get, Param, Res } from '@nestjs/common';
import { UnavailableError } from '@muelle/contracts';
import type { Response } from 'express';
import { ConsoleFiles } from './console-files';

/**
 * Strict: only the console's own script, styles and API (same origin, including its WebSockets);
 * no inline script or style element, no framing, no form posts elsewhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The web console at /ui/ (static files built by `npm run build`). It is only a client of the
 * public /v1 API: these routes need no sign-in and carry no data. Paths that are not a file get
 * index.html, so a reload on any console page works.
 */
@Controller('ui')
export class ConsoleController {
  constructor(private readonly files: ConsoleFiles) {}

  @Get()
  index(@Res() res: Response) {
    this.send(res, 'index.html');
  }

  @Get('*path')
  file(@Param('path') path: string | string[], @Res() res: Response) {
    const segments = Array.isArray(path) ? path : [path];
    const name = segments.length === 1 && this.files.get(segments[0]) ? segments[0] : 'index.html';
    this.send(res, name);
  }

  private send(res: Response, name: string) {
    const file = this.files.get(name);
    if (!file) throw new UnavailableError('the web console is not built: run npm run build');
    res.status(200);
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-cache');
    res.end(file.body);
  }
}
