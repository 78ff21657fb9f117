import { DynamicModule, Module } from '@nestjs/common';
import { ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import { RegistryConfig } from './config';
import { DistributionBaseController } from './distribution/base.controller';

@Module({})
export class RegistryModule {
  static forRoot(_config: RegistryConfig, kit: ServiceKitOptions): DynamicModule {
    return {
      module: RegistryModule,
      imports: [ServiceKitModule.forRoot(kit)],
      controllers: [DistributionBaseController],
    };
  }
}
