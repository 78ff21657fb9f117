import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event history behind `docker events --since` / `muelle events --since`: container, image and
 * host events as the api published them, kept within a count and an age (pruned by metadata).
 */
export class PlatformEvents1764840000000 implements MigrationInterface {
  name = 'PlatformEvents1764840000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE platform_events (
      id bigserial PRIMARY KEY,
      type text NOT NULL CHECK (type IN ('container', 'image', 'host')),
      action text NOT NULL,
      object_id text NOT NULL,
      team_id uuid,
      at timestamptz NOT NULL,
      attributes jsonb NOT NULL DEFAULT '{}',
      labels jsonb)`);
    await q.query(`CREATE INDEX platform_events_at ON platform_events(at, id)`);
    await q.query(`CREATE INDEX platform_events_team_at ON platform_events(team_id, at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE platform_events`);
  }
}
