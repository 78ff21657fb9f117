import { MigrationInterface, QueryRunner } from 'typeorm';

/** A container's health-check status, with its own clock: health events and state events arrive independently. */
export class ContainerHealth1764700700000 implements MigrationInterface {
  name = 'ContainerHealth1764700700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE containers ADD COLUMN health_status text NULL CHECK (health_status IN ('starting', 'healthy', 'unhealthy'))`);
    await q.query(`ALTER TABLE containers ADD COLUMN health_failing_streak integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE containers ADD COLUMN health_changed_at timestamptz NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE containers DROP COLUMN health_changed_at`);
    await q.query(`ALTER TABLE containers DROP COLUMN health_failing_streak`);
    await q.query(`ALTER TABLE containers DROP COLUMN health_status`);
  }
}
