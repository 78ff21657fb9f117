import { DynamicModule, Module } from '@nestjs/common';
import { ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';

@Module({})
export class BuilderModule {
  static forRoot(kit: ServiceKitOptions): DynamicModule {
    return { module: BuilderModule, imports: [ServiceKitModule.forRoot(kit)] };
  }
}
