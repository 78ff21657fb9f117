import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first `builds` table was never written (the builder kept builds in memory): replaced by the
 * build records the builder saves at start and end of every build (who, team, state, steps,
 * digests, error), keyed by the builder's own build id.
 */
export class BuildRecords1764700300000 implements MigrationInterface {
  name = 'BuildRecords1764700300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE builds`);
    await q.query(`CREATE TABLE builds (
      id text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{8,40}$'),
      builder_id text NOT NULL,
      team_id uuid REFERENCES teams(id) ON DELETE SET NULL,
      requested_by text NOT NULL,
      state text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
      tags text[] NOT NULL DEFAULT '{}',
      steps integer,
      cached_steps integer,
      image_digest text CHECK (image_digest ~ '^sha256:[a-f0-9]{64}$'),
      config_digest text CHECK (config_digest ~ '^sha256:[a-f0-9]{64}$'),
      pushed jsonb NOT NULL DEFAULT '[]',
      duration_ms double precision,
      error jsonb,
      started_at timestamptz NOT NULL,
      finished_at timestamptz,
      CHECK ((state = 'running') = (finished_at IS NULL)))`);
    await q.query(`CREATE INDEX builds_team ON builds(team_id, started_at DESC, id DESC)`);
    await q.query(`CREATE INDEX builds_started ON builds(started_at DESC, id DESC)`);
    await q.query(`CREATE INDEX builds_running ON builds(builder_id) WHERE state = 'running'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE builds`);
    await q.query(`CREATE TABLE builds (
      id uuid PRIMARY KEY,
      team_id uuid REFERENCES teams(id) ON DELETE SET NULL,
      requested_by uuid REFERENCES users(id) ON DELETE SET NULL,
      state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
      tags text[] NOT NULL DEFAULT '{}',
      dockerfile_path text NOT NULL DEFAULT 'Dockerfile',
      target text,
      context_digest text,
      image_digest text,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz)`);
    await q.query(`CREATE INDEX builds_team ON builds(team_id, created_at DESC)`);
  }
}
