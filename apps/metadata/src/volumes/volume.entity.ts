import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A team's named volume: a directory on the one host it lives on (driver `local`). */
@Entity('volumes')
export class VolumeEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('text') driver!: 'local';
  @Column('jsonb') labels!: Record<string, string>;
  @Column('text', { name: 'host_id' }) hostId!: string;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}
