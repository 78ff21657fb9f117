import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Upload sessions never stored a hash state: the registry keeps native sha256 state in memory and
 * a replica that takes over a session re-reads its parts (see apps/registry/README.md).
 */
export class DropUploadHashState1764600700000 implements MigrationInterface {
  name = 'DropUploadHashState1764600700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE upload_sessions DROP COLUMN hash_state`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE upload_sessions ADD COLUMN hash_state bytea`);
  }
}
