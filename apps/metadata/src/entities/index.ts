import { ContainerEntity } from './container.entity';
import { HostEntity } from './host.entity';
import { TeamEntity } from '../teams/team.entity';
import { SubnetAllocationEntity } from '../addresses/subnet-allocation.entity';
import { BuildEntity } from '../builds/build.entity';
import { ServiceEntity } from '../services/service.entity';
import { NetworkEntity } from '../networks/network.entity';
import { AuditEntryEntity, TokenEntity, UserEntity } from './user.entity';
import { VolumeEntity } from '../volumes/volume.entity';
import { PlatformEventEntity } from '../events/platform-event.entity';

export { PlatformEventEntity, BuildEntity, ServiceEntity, TeamEntity, ContainerEntity, HostEntity, AuditEntryEntity, TokenEntity, UserEntity };
export const entities = [HostEntity, UserEntity, TokenEntity, AuditEntryEntity, ContainerEntity, TeamEntity, SubnetAllocationEntity, BuildEntity, ServiceEntity, PlatformEventEntity, NetworkEntity, VolumeEntity];
