import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { API_CONFIG, ApiConfig } from '../config';
import { refuseCrossSite } from './origin-policy';

/** Every api route (/v1 and the Docker Engine API): cross-site state-changing requests get 403 before anything runs. */
@Injectable()
export class OriginMiddleware implements NestMiddleware {
  constructor(@Inject(API_CONFIG) private readonly config: ApiConfig) {}

  use(req: Request, _res: Response, next: NextFunction): void {
    refuseCrossSite(req.method, req.headers, this.config.MUELLE_ALLOWED_ORIGINS);
    next();
  }
}
