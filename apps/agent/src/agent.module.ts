import { DynamicModule, Module } from '@nestjs/common';
import { ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import { AgentConfig } from './config';
import { HostRegistrationService } from './host/host-registration.service';
import { AGENT_CONFIG } from './tokens';

@Module({})
export class AgentModule {
  static forRoot(config: AgentConfig, kit: ServiceKitOptions): DynamicModule {
    return {
      module: AgentModule,
      imports: [ServiceKitModule.forRoot(kit)],
      providers: [{ provide: AGENT_CONFIG, useValue: config }, HostRegistrationService],
    };
  }
}
