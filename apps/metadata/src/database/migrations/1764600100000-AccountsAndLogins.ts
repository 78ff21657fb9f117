import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Robot tokens (owned by a team, not a person) and scoped tokens; login failures counted per
 * account, per address and per pair across replicas (SECURITY.md § 5).
 */
export class AccountsAndLogins1764600100000 implements MigrationInterface {
  name = 'AccountsAndLogins1764600100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tokens ALTER COLUMN user_id DROP NOT NULL`);
    await q.query(`ALTER TABLE tokens ADD COLUMN team_id uuid REFERENCES teams(id) ON DELETE CASCADE`);
    await q.query(`ALTER TABLE tokens ADD COLUMN scopes jsonb`);
    await q.query(`ALTER TABLE tokens ADD COLUMN created_by uuid REFERENCES users(id) ON DELETE SET NULL`);
    await q.query(`ALTER TABLE tokens ADD CONSTRAINT tokens_one_owner CHECK ((user_id IS NULL) <> (team_id IS NULL))`);
    await q.query(`ALTER TABLE tokens ADD CONSTRAINT tokens_robot_scopes CHECK (team_id IS NULL OR scopes IS NOT NULL)`);
    // A robot's login name is `<team>+<name>`: unique among a team's live robots.
    await q.query(`CREATE UNIQUE INDEX tokens_live_robot_name ON tokens(team_id, name) WHERE team_id IS NOT NULL AND revoked_at IS NULL`);
    await q.query(`CREATE INDEX tokens_team ON tokens(team_id)`);
    await q.query(`CREATE TABLE login_throttle (
      key text PRIMARY KEY,
      failures integer NOT NULL,
      window_started_at timestamptz NOT NULL,
      blocked_until timestamptz,
      strikes integer NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL)`);
    await q.query(`CREATE INDEX login_throttle_updated ON login_throttle(updated_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE login_throttle`);
    await q.query(`DELETE FROM tokens WHERE user_id IS NULL`);
    await q.query(`DROP INDEX tokens_team`);
    await q.query(`DROP INDEX tokens_live_robot_name`);
    await q.query(`ALTER TABLE tokens DROP CONSTRAINT tokens_robot_scopes`);
    await q.query(`ALTER TABLE tokens DROP CONSTRAINT tokens_one_owner`);
    await q.query(`ALTER TABLE tokens DROP COLUMN created_by`);
    await q.query(`ALTER TABLE tokens DROP COLUMN scopes`);
    await q.query(`ALTER TABLE tokens DROP COLUMN team_id`);
    await q.query(`ALTER TABLE tokens ALTER COLUMN user_id SET NOT NULL`);
  }
}
