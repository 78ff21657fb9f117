import { MigrationInterface, QueryRunner } from 'typeorm';

/** When a service's task was announced as leaving the routing mesh (drainTasks); null when not. */
export class TaskDraining1765091000002 implements MigrationInterface {
  name = 'TaskDraining1765091000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE containers ADD COLUMN draining_since timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE containers DROP COLUMN draining_since`);
  }
}
