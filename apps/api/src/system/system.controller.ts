import { Controller, Get, Inject } from '@nestjs/common';
import { SERVICE_INFO, ServiceInfo } from '@muelle/service-kit';

@Controller('v1')
export class SystemController {
  constructor(@Inject(SERVICE_INFO) private readonly info: ServiceInfo) {}

  /** Unauthenticated: lets clients find out they reached a Muelle API and which version. */
  @Get('version')
  version() {
    return { name: 'muelle', version: this.info.version, apiVersion: 'v1' };
  }
}
