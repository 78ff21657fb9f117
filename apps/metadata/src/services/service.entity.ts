import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RestartEntry, ServiceSpec, UpdateState } from '@muelle/contracts';

@Entity('services')
export class ServiceEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('uuid', { name: 'owner_id' }) ownerId!: string;
  @Column('jsonb') spec!: ServiceSpec;
  @Column('jsonb', { name: 'previous_spec', nullable: true }) previousSpec!: ServiceSpec | null;
  @Column('integer') version!: number;
  @Column('text', { name: 'update_state' }) updateState!: UpdateState;
  @Column('text', { name: 'update_message' }) updateMessage!: string;
  @Column('jsonb', { name: 'update_failed_tasks' }) updateFailedTasks!: string[];
  @Column('jsonb', { name: 'restart_history' }) restartHistory!: RestartEntry[];
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
