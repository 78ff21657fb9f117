import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenancy (SECURITY.md §1): the read-only `viewer` role, and repositories an admin marks shared
 * (pullable by every signed-in user, like `library/…`).
 */
export class ViewerRoleSharedRepositories1764600000000 implements MigrationInterface {
  name = 'ViewerRoleSharedRepositories1764600000000';

  async up(q: QueryRunner): Promise<void> {
    // The initial schema's inline CHECK got PostgreSQL's default name (PGlite names it the same).
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_role_check`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'member', 'viewer'))`);
    await q.query(`ALTER TABLE repositories ADD COLUMN shared boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE repositories DROP COLUMN shared`);
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_role_check`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'member'))`);
  }
}
