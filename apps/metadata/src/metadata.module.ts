import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ServiceKitModule, ServiceKitOptions } from '@muelle/service-kit';
import { DataSource } from 'typeorm';
import { MetadataConfig } from './config';
import { entities } from './entities';
import { HostsController } from './hosts/hosts.controller';
import { HostsService } from './hosts/hosts.service';
import { METADATA_CONFIG } from './tokens';
import { UsersController } from './users/users.controller';
import { UsersService } from './users/users.service';
import { TokensService } from './users/tokens.service';
import { LoginThrottle } from './users/login-throttle';
import { DatabaseReadiness } from './database/database.readiness';
import { ContainersController } from './containers/containers.controller';
import { ContainersService } from './containers/containers.service';
import { RegistryMetadataController } from './registry/registry-metadata.controller';
import { RegistryMetadataService } from './registry/registry-metadata.service';
import { TeamsController } from './teams/teams.controller';
import { TeamsService } from './teams/teams.service';
import { TeamLimitsController } from './teams/team-limits.controller';
import { TeamLimitsService } from './teams/team-limits.service';
import { AuditController } from './audit/audit.controller';
import { AuditService } from './audit/audit.service';
import { FirstAdmin } from './users/first-admin';
import { AddressManagerController } from './addresses/address-manager.controller';
import { AddressManagerService } from './addresses/address-manager.service';
import { BuildRecordsController } from './builds/builds.controller';
import { BuildRecordsService } from './builds/builds.service';
import { ServicesController } from './services/services.controller';
import { PlatformMetrics } from './metrics/platform-metrics';
import { ServicesService } from './services/services.service';
import { RegistryGarbageService } from './registry/registry-garbage.service';
import { EventsController } from './events/events.controller';
import { EventsService } from './events/events.service';
import { NetworksController } from './networks/networks.controller';
import { NetworksService } from './networks/networks.service';
import { NetworkEndpoints } from './networks/network-endpoints';
import { VolumesController } from './volumes/volumes.controller';
import { VolumesService } from './volumes/volumes.service';
import { NetworkNames } from './networks/network-names';

@Module({})
export class MetadataModule {
  static forRoot(config: MetadataConfig, kit: ServiceKitOptions, dataSource: DataSource): DynamicModule {
    return {
      module: MetadataModule,
      imports: [
        ServiceKitModule.forRoot(kit),
        // The DataSource is opened and migrated before Nest starts; Nest only borrows it.
        TypeOrmModule.forRootAsync({ useFactory: () => dataSource.options, dataSourceFactory: async () => dataSource }),
        TypeOrmModule.forFeature(entities),
      ],
      controllers: [HostsController, UsersController, ContainersController, RegistryMetadataController, TeamsController, AuditController, TeamLimitsController, AddressManagerController, BuildRecordsController, ServicesController, EventsController, NetworksController, VolumesController],
      providers: [{ provide: METADATA_CONFIG, useValue: config }, HostsService, UsersService, FirstAdmin, TokensService, LoginThrottle, DatabaseReadiness, ContainersService, RegistryMetadataService, RegistryGarbageService, TeamsService, AuditService, TeamLimitsService, AddressManagerService, BuildRecordsService, ServicesService, PlatformMetrics, EventsService, NetworksService, NetworkEndpoints, VolumesService, NetworkNames],
    };
  }
}
