import { DynamicModule, Module } from '@nestjs/common';
import { ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import { AuditLog } from './audit/audit-log';
import { BuildsController } from './builds/builds.controller';
import { BuildsService } from './builds/builds.service';
import { AuthGuard } from './auth/auth.guard';
import { Authenticator } from './auth/authenticator';
import { TokensController } from './auth/tokens.controller';
import { RegistryTokens } from './auth/registry-tokens.service';
import { API_CONFIG, ApiSettings, resolveApiConfig } from './config';
import { ContainersController } from './containers/containers.controller';
import { ContainersService } from './containers/containers.service';
import { TerminalGateway } from './containers/terminal.gateway';
import { dockerEngineControllers, dockerEngineProviders } from './docker';
import { EventHub } from './events/event-hub';
import { ContainerEventsListener, EventsController } from './events/events.controller';
import { Cluster } from './hosts/cluster';
import { HostsController } from './hosts/hosts.controller';
import { HostsService } from './hosts/hosts.service';
import { ImagesController } from './images/images.controller';
import { ImagesService } from './images/images.service';
import { OpenApiController } from './openapi/openapi.controller';
import { Reconciler } from './reconciler/reconciler';
import { RepositoriesController } from './repositories/repositories.controller';
import { RepositoriesService } from './repositories/repositories.service';
import { SystemController } from './system/system.controller';
import { TeamsController } from './teams/teams.controller';

/** Services hold the behaviour (and are exported for the Docker Engine API layer); controllers only translate HTTP. */
const services = [Authenticator, AuthGuard, RegistryTokens, AuditLog, EventHub, Cluster, ContainersService, HostsService, ImagesService, RepositoriesService, BuildsService];

@Module({})
export class ApiModule {
  static forRoot(kit: ServiceKitOptions, config: ApiSettings): DynamicModule {
    return {
      module: ApiModule,
      imports: [ServiceKitModule.forRoot(kit)],
      controllers: [
        SystemController,
        OpenApiController,
        TokensController,
        TeamsController,
        HostsController,
        ContainersController,
        ImagesController,
        RepositoriesController,
        BuildsController,
        EventsController,
        ContainerEventsListener,
        // Docker Engine API (its catch-all comes last).
        ...dockerEngineControllers,
      ],
      providers: [{ provide: API_CONFIG, useValue: resolveApiConfig(config) }, ...services, TerminalGateway, Reconciler, ...dockerEngineProviders],
      exports: [API_CONFIG, ...services],
    };
  }
}
