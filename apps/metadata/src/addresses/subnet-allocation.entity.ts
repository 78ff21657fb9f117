import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One subnet handed out by the address manager; `owner` is `host:<id>` (later `network:<id>`). */
@Entity('subnet_allocations')
export class SubnetAllocationEntity {
  @PrimaryColumn('text') cidr!: string;
  @Column('text', { unique: true }) owner!: string;
  @Column('timestamptz', { name: 'allocated_at' }) allocatedAt!: Date;
}
