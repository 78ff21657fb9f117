import { MigrationInterface, QueryRunner } from 'typeorm';

/** Teams' named volumes and the host each lives on (a `local` volume is a directory of one host). */
export class Volumes1765000000000 implements MigrationInterface {
  name = 'Volumes1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE volumes (
      id uuid PRIMARY KEY,
      name text NOT NULL CHECK (name ~ '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,109}$'),
      team_id uuid NULL REFERENCES teams(id) ON DELETE CASCADE,
      driver text NOT NULL CHECK (driver = 'local'),
      labels jsonb NOT NULL DEFAULT '{}',
      host_id text NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    // One name per team; volumes without a team (admins') share one namespace, as on the agent.
    await q.query(`CREATE UNIQUE INDEX volumes_team_name ON volumes (COALESCE(team_id, '00000000-0000-0000-0000-000000000000'::uuid), name)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE volumes`);
  }
}
