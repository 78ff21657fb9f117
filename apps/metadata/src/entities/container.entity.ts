import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ContainerSpec, ContainerState, HealthStatus } from '@muelle/contracts';

@Entity('containers')
export class ContainerEntity {
  @PrimaryColumn('char', { length: 64 }) id!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('text', { name: 'host_id', nullable: true }) hostId!: string | null;
  @Column('text') image!: string;
  @Column('text', { name: 'image_digest', nullable: true }) imageDigest!: string | null;
  @Column('jsonb') spec!: ContainerSpec;
  @Column('jsonb') labels!: Record<string, string>;
  @Column('text') state!: ContainerState;
  @Column('integer', { name: 'exit_code', nullable: true }) exitCode!: number | null;
  @Column('boolean', { name: 'oom_killed' }) oomKilled!: boolean;
  @Column('integer', { name: 'restart_count' }) restartCount!: number;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
  @Column('timestamptz', { name: 'state_changed_at' }) stateChangedAt!: Date;
  @Column('text', { name: 'health_status', nullable: true }) healthStatus!: HealthStatus | null;
  @Column('integer', { name: 'health_failing_streak', default: 0 }) healthFailingStreak!: number;
  @Column('timestamptz', { name: 'health_changed_at', nullable: true }) healthChangedAt!: Date | null;
}
