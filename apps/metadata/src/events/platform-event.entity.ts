import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { StoredPlatformEvent } from '@muelle/contracts';

@Entity('platform_events')
export class PlatformEventEntity {
  @PrimaryColumn('bigint', { generated: 'increment' }) id!: string;
  @Column('text') type!: StoredPlatformEvent['type'];
  @Column('text') action!: string;
  @Column('text', { name: 'object_id' }) objectId!: string;
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('timestamptz') at!: Date;
  @Column('jsonb') attributes!: StoredPlatformEvent['attributes'];
  @Column('jsonb', { nullable: true }) labels!: Record<string, string> | null;
}
