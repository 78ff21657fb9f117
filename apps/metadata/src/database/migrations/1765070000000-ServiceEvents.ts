import { MigrationInterface, QueryRunner } from 'typeorm';

/** The event history keeps service events too (`update` as a rolling update starts, pauses, completes or rolls back). */
export class ServiceEvents1765070000000 implements MigrationInterface {
  name = 'ServiceEvents1765070000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE platform_events DROP CONSTRAINT platform_events_type_check`);
    await q.query(`ALTER TABLE platform_events ADD CONSTRAINT platform_events_type_check CHECK (type IN ('container', 'image', 'host', 'service'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM platform_events WHERE type = 'service'`);
    await q.query(`ALTER TABLE platform_events DROP CONSTRAINT platform_events_type_check`);
    await q.query(`ALTER TABLE platform_events ADD CONSTRAINT platform_events_type_check CHECK (type IN ('container', 'image', 'host'))`);
  }
}
