import { MigrationInterface, QueryRunner } from 'typeorm';

/** State events can arrive out of order (NATS, agent restarts): keep the time of the one recorded. */
export class ContainerStateClock1764300000001 implements MigrationInterface {
  name = 'ContainerStateClock1764300000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE containers ADD COLUMN state_changed_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`CREATE INDEX containers_state ON containers(state, created_at DESC, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX containers_state`);
    await q.query(`ALTER TABLE containers DROP COLUMN state_changed_at`);
  }
}
