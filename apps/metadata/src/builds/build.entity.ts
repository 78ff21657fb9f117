import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { BuildRecord } from '@muelle/contracts';

@Entity('builds')
export class BuildEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text', { name: 'builder_id' }) builderId!: string;
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('text', { name: 'requested_by' }) requestedBy!: string;
  @Column('text') state!: BuildRecord['state'];
  @Column('text', { array: true }) tags!: string[];
  @Column('integer', { nullable: true }) steps!: number | null;
  @Column('integer', { name: 'cached_steps', nullable: true }) cachedSteps!: number | null;
  @Column('text', { name: 'image_digest', nullable: true }) imageDigest!: string | null;
  @Column('text', { name: 'config_digest', nullable: true }) configDigest!: string | null;
  @Column('jsonb') pushed!: { reference: string; digest: string }[];
  @Column('double precision', { name: 'duration_ms', nullable: true }) durationMs!: number | null;
  @Column('jsonb', { nullable: true }) error!: BuildRecord['error'] | null;
  @Column('timestamptz', { name: 'started_at' }) startedAt!: Date;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
}
