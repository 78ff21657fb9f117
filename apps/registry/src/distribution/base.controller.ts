import { Controller, Get, Header } from '@nestjs/common';

@Controller('v2')
export class DistributionBaseController {
  /** end-1: tells OCI clients this is a v2 registry (Docker stops protocol fallbacks on this header). */
  @Get()
  @Header('Docker-Distribution-API-Version', 'registry/2.0')
  base() {
    return {};
  }
}
