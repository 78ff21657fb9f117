import { MigrationInterface, QueryRunner } from 'typeorm';

/** Admin decisions per team: what members may ask of a host (policy) and how much they may reserve (quota). */
export class TeamPoliciesAndQuotas1764600200000 implements MigrationInterface {
  name = 'TeamPoliciesAndQuotas1764600200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE team_policies (
      team_id uuid PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,
      policy jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE team_quotas (
      team_id uuid PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,
      max_containers integer CHECK (max_containers >= 0),
      max_memory_bytes bigint CHECK (max_memory_bytes >= 0),
      max_cpus double precision CHECK (max_cpus >= 0),
      max_registry_bytes bigint CHECK (max_registry_bytes >= 0),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    // Quota checks sum a team's live containers.
    await q.query(`CREATE INDEX containers_team_state ON containers(team_id, state)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX containers_team_state`);
    await q.query(`DROP TABLE team_quotas`);
    await q.query(`DROP TABLE team_policies`);
  }
}
