import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ReadinessRegistry } from './readiness';
import { ServiceMetrics } from './metrics';
import { SERVICE_INFO, ServiceInfo } from './tokens';

@Controller()
export class HealthController {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly metrics: ServiceMetrics,
    @Inject(SERVICE_INFO) private readonly info: ServiceInfo,
  ) {}

  /** Alive: the process answers. Never depends on anything else. */
  @Get('healthz')
  healthz() {
    return { status: 'ok', service: this.info.service, instance: this.info.instance, version: this.info.version };
  }

  /** Ready: every dependency answers; 503 with the failing ones named otherwise. */
  @Get('readyz')
  async readyz(@Res() response: Response) {
    const { ready, checks, details } = await this.readiness.run();
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', service: this.info.service, checks, ...(Object.keys(details).length ? { details } : {}) });
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async prometheus() {
    return this.metrics.registry.metrics();
  }
}
