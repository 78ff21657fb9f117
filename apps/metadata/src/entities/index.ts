import { ContainerEntity } from './container.entity';
import { HostEntity } from './host.entity';
import { AuditEntryEntity, TokenEntity, UserEntity } from './user.entity';

export { ContainerEntity, HostEntity, AuditEntryEntity, TokenEntity, UserEntity };
export const entities = [HostEntity, UserEntity, TokenEntity, AuditEntryEntity, ContainerEntity];
