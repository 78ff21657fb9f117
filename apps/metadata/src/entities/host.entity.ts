import type { HostCapacity } from '@muelle/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('hosts')
export class HostEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') address!: string;
  @Column('jsonb') capacity!: HostCapacity;
  @Column('jsonb') labels!: Record<string, string>;
  @Column('text') state!: 'ready' | 'down';
  @Column('boolean') cordoned!: boolean;
  @Column('text', { name: 'agent_version' }) agentVersion!: string;
  @Column('timestamptz', { name: 'registered_at' }) registeredAt!: Date;
  @Column('timestamptz', { name: 'last_heartbeat_at' }) lastHeartbeatAt!: Date;
  @Column('text', { name: 'not_ready', nullable: true }) notReady!: string | null;
  @Column('text', { name: 'underlay_address', nullable: true }) underlayAddress!: string | null;
}
