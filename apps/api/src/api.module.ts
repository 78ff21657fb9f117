import { DynamicModule, Module } from '@nestjs/common';
import { ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import { AuthGuard } from './auth/auth.guard';
import { TokensController } from './auth/tokens.controller';
import { HostsController } from './hosts/hosts.controller';
import { SystemController } from './system/system.controller';

@Module({})
export class ApiModule {
  static forRoot(kit: ServiceKitOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [ServiceKitModule.forRoot(kit)],
      controllers: [SystemController, TokensController, HostsController],
      providers: [AuthGuard],
    };
  }
}
