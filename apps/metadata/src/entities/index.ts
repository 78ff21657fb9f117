import { HostEntity } from './host.entity';
import { AuditEntryEntity, TokenEntity, UserEntity } from './user.entity';

export { HostEntity, AuditEntryEntity, TokenEntity, UserEntity };
export const entities = [HostEntity, UserEntity, TokenEntity, AuditEntryEntity];
