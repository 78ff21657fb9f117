import type { TokenScope } from '@muelle/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('users')
export class UserEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') username!: string;
  @Column('text', { name: 'password_hash' }) passwordHash!: string;
  @Column('text') role!: 'admin' | 'member' | 'viewer';
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('boolean') disabled!: boolean;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

@Entity('tokens')
export class TokenEntity {
  @PrimaryColumn('uuid') id!: string;
  /** The owner of a personal token; null for a robot (owned by `teamId`). */
  @Column('uuid', { name: 'user_id', nullable: true }) userId!: string | null;
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('text') name!: string;
  /** What the token may do below its role; null = everything its owner may do. */
  @Column('jsonb', { nullable: true }) scopes!: TokenScope[] | null;
  @Column('uuid', { name: 'created_by', nullable: true }) createdBy!: string | null;
  @Column('text', { name: 'token_hash' }) tokenHash!: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'expires_at', nullable: true }) expiresAt!: Date | null;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt!: Date | null;
}

@Entity('audit_log')
export class AuditEntryEntity {
  @PrimaryColumn('bigint', { generated: 'increment' }) id!: string;
  @Column('timestamptz') at!: Date;
  @Column('text') actor!: string;
  @Column('text') action!: string;
  @Column('text') target!: string;
  @Column('jsonb', { nullable: true }) details!: unknown;
}
