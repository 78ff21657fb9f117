import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The new-version tasks that failed during the current update, by id (so a round that sees one twice
 * counts it once): what `update_config.max_failure_ratio` is measured against. Emptied at every new spec.
 */
export class ServiceUpdateFailures1765070000001 implements MigrationInterface {
  name = 'ServiceUpdateFailures1765070000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE services ADD COLUMN update_failed_tasks jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE services DROP COLUMN update_failed_tasks`);
  }
}
