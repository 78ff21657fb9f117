import { DynamicModule, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import { AuditLog } from './audit/audit-log';
import { BuildsController } from './builds/builds.controller';
import { BuildsService } from './builds/builds.service';
import { BuildCacheService } from './builds/build-cache.service';
import { AuthGuard } from './auth/auth.guard';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { DeniedChangeAudit } from './audit/denied-change.interceptor';
import { Authenticator } from './auth/authenticator';
import { TokensController } from './auth/tokens.controller';
import { SessionController } from './auth/session.controller';
import { SessionService } from './auth/session.service';
import { ConsoleController } from './console/console.controller';
import { ConsoleFiles } from './console/console-files';
import { AccountEventsListener } from './auth/account-events.listener';
import { OriginMiddleware } from './auth/origin.middleware';
import { AccountsService } from './accounts/accounts.service';
import { UsersController } from './accounts/users.controller';
import { RegistryTokens } from './auth/registry-tokens.service';
import { API_CONFIG, ApiSettings, resolveApiConfig } from './config';
import { ContainerAdmission } from './containers/container-admission';
import { ContainersController } from './containers/containers.controller';
import { TeamLimitsController } from './teams/team-limits.controller';
import { ContainersService } from './containers/containers.service';
import { ContainerPruner } from './containers/container-pruner';
import { ContainerNames } from './containers/container-names';
import { ContainerProcesses } from './containers/container-processes';
import { ContainerArchives } from './containers/container-archives';
import { ImageSave } from './images/image-save';
import { ImageLoad } from './images/image-load';
import { ContainerArchiveController } from './containers/archive.controller';
import { TerminalGateway } from './containers/terminal.gateway';
import { dockerEngineControllers, dockerEngineProviders } from './docker';
import { EventHub, PlatformEventsListener } from './events/event-hub';
import { EventFeed } from './events/event-feed';
import { ImageUsage } from './images/image-usage';
import { ContainerEventsListener, EventsController } from './events/events.controller';
import { Cluster } from './hosts/cluster';
import { Placer } from './scheduling/placer';
import { HostsController } from './hosts/hosts.controller';
import { HostsService } from './hosts/hosts.service';
import { ImagesController } from './images/images.controller';
import { ImageCatalog } from './images/image-catalog';
import { ImagesService } from './images/images.service';
import { OpenApiController } from './openapi/openapi.controller';
import { Reconciler } from './reconciler/reconciler';
import { ServiceReconciler } from './services/service-reconciler';
import { ServicesController } from './services/services.controller';
import { ServicesService } from './services/services.service';
import { NetworksController } from './networks/networks.controller';
import { NetworksService } from './networks/networks.service';
import { NetworkConnections } from './networks/network-connections';
import { VolumesController } from './volumes/volumes.controller';
import { VolumesService } from './volumes/volumes.service';
import { RepositoriesController } from './repositories/repositories.controller';
import { RepositoriesService } from './repositories/repositories.service';
import { RepositoryAccess } from './repositories/repository-access';
import { SystemController } from './system/system.controller';
import { SystemService } from './system/system.service';
import { TeamsController } from './teams/teams.controller';
import { ContainerMoves } from './containers/container-moves';
import { ImageSummaries } from './images/image-summaries';

/** Services hold the behaviour (and are exported for the Docker Engine API layer); controllers only translate HTTP. */
const services = [Authenticator, AuthGuard, AccountsService, RegistryTokens, AuditLog, EventHub, EventFeed, Cluster, Placer, ContainersService, ContainerMoves, ContainerPruner, ContainerNames, ContainerProcesses, ContainerArchives, ContainerAdmission, HostsService, ImagesService, ImageSummaries, ImageCatalog, ImageUsage, ImageSave, ImageLoad, RepositoriesService, RepositoryAccess, BuildsService, BuildCacheService, SystemService, ServicesService, NetworksService, NetworkConnections, VolumesService];

@Module({})
export class ApiModule implements NestModule {
  static forRoot(kit: ServiceKitOptions, config: ApiSettings): DynamicModule {
    return {
      module: ApiModule,
      imports: [ServiceKitModule.forRoot(kit)],
      controllers: [
        SystemController,
        OpenApiController,
        TokensController,
        SessionController,
        ConsoleController,
        UsersController,
        AccountEventsListener,
        TeamsController,
        TeamLimitsController,
        HostsController,
        ContainersController,
        ContainerArchiveController,
        ServicesController,
        NetworksController,
        VolumesController,
        ImagesController,
        RepositoriesController,
        BuildsController,
        EventsController,
        ContainerEventsListener,
        PlatformEventsListener,
        // Docker Engine API (its catch-all comes last).
        ...dockerEngineControllers,
      ],
      providers: [{ provide: API_CONFIG, useValue: resolveApiConfig(config) }, { provide: APP_INTERCEPTOR, useClass: DeniedChangeAudit }, ...services, SessionService, ConsoleFiles, TerminalGateway, Reconciler, ServiceReconciler, ...dockerEngineProviders],
      exports: [API_CONFIG, ...services],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // Before any guard or controller: a cross-site browser request changes nothing.
    consumer.apply(OriginMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
