import { MigrationInterface, QueryRunner } from 'typeorm';

/** Services (desired state kept by the api's reconciler) and leader leases for loops that run on one api replica at a time. */
export class ServicesAndLeases1764700700001 implements MigrationInterface {
  name = 'ServicesAndLeases1764700700001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE services (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      team_id uuid NULL REFERENCES teams(id) ON DELETE CASCADE,
      owner_id uuid NOT NULL,
      spec jsonb NOT NULL,
      previous_spec jsonb NULL,
      version integer NOT NULL DEFAULT 1,
      update_state text NOT NULL DEFAULT 'completed' CHECK (update_state IN ('completed', 'updating', 'paused', 'rollback_started', 'rollback_completed')),
      update_message text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    // One name per team; services without a team (admins') share one namespace.
    await q.query(`CREATE UNIQUE INDEX services_team_name ON services (COALESCE(team_id, '00000000-0000-0000-0000-000000000000'::uuid), name)`);
    await q.query(`CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE leases`);
    await q.query(`DROP TABLE services`);
  }
}
