import { MigrationInterface, QueryRunner } from 'typeorm';

/** Teams' user-defined networks; their subnets are allocations of the address manager (subnet_allocations). */
export class Networks1764850000000 implements MigrationInterface {
  name = 'Networks1764850000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE networks (
      id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
      name text NOT NULL,
      team_id uuid NULL REFERENCES teams(id) ON DELETE CASCADE,
      driver text NOT NULL CHECK (driver IN ('overlay', 'bridge')),
      subnet text NOT NULL,
      gateway text NOT NULL,
      internal boolean NOT NULL DEFAULT false,
      labels jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    // One name per team; networks without a team (admins') share one namespace.
    await q.query(`CREATE UNIQUE INDEX networks_team_name ON networks (COALESCE(team_id, '00000000-0000-0000-0000-000000000000'::uuid), name)`);
    // A team deleted with its networks gives their subnets back.
    await q.query(`CREATE FUNCTION networks_release_subnet() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM subnet_allocations WHERE owner = 'network:' || OLD.id; RETURN OLD; END $$`);
    await q.query(`CREATE TRIGGER networks_release_subnet AFTER DELETE ON networks FOR EACH ROW EXECUTE FUNCTION networks_release_subnet()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE networks`);
    await q.query(`DROP FUNCTION networks_release_subnet()`);
  }
}
