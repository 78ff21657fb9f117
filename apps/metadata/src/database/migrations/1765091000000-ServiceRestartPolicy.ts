import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Swarm's whole restart policy: the spec's `restartCondition` becomes `restartPolicy.condition`
 * (delay, max attempts and window take their defaults when the spec is read), and each service keeps
 * the restart policy's record of failed tasks (what max_attempts counts, what delay waits out).
 */
export class ServiceRestartPolicy1765091000000 implements MigrationInterface {
  name = 'ServiceRestartPolicy1765091000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE services ADD COLUMN restart_history jsonb NOT NULL DEFAULT '[]'`);
    for (const column of ['spec', 'previous_spec']) {
      await q.query(
        `UPDATE services SET ${column} = (${column} - 'restartCondition') || jsonb_build_object('restartPolicy', jsonb_build_object('condition', ${column}->'restartCondition'))
         WHERE ${column} ? 'restartCondition'`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of ['spec', 'previous_spec']) {
      await q.query(
        `UPDATE services SET ${column} = (${column} - 'restartPolicy') || jsonb_build_object('restartCondition', ${column}->'restartPolicy'->'condition')
         WHERE ${column} ? 'restartPolicy'`,
      );
    }
    await q.query(`ALTER TABLE services DROP COLUMN restart_history`);
  }
}
