import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { NetworkDriver } from '@muelle/contracts';

/** A team's user-defined network; its subnet is also a row of subnet_allocations (`network:<id>`). */
@Entity('networks')
export class NetworkEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') name!: string;
  @Column('uuid', { name: 'team_id', nullable: true }) teamId!: string | null;
  @Column('text') driver!: NetworkDriver;
  @Column('text') subnet!: string;
  @Column('text') gateway!: string;
  @Column('boolean') internal!: boolean;
  @Column('jsonb') labels!: Record<string, string>;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  /** Given by the column's default (a sequence) at insert. */
  @Column({ type: 'integer', insert: false }) vni!: number;
}
