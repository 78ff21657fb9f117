import { ContainerEntity } from './container.entity';
import { HostEntity } from './host.entity';
import { TeamEntity } from '../teams/team.entity';
import { ServiceEntity } from '../services/service.entity';
import { AuditEntryEntity, TokenEntity, UserEntity } from './user.entity';

export { ServiceEntity, TeamEntity, ContainerEntity, HostEntity, AuditEntryEntity, TokenEntity, UserEntity };
export const entities = [HostEntity, UserEntity, TokenEntity, AuditEntryEntity, ContainerEntity, TeamEntity, ServiceEntity];
