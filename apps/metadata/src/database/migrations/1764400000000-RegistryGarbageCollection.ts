import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Registry additions: digests marked for deletion by the online GC (commits and mounts of a
 * marked digest are refused until the bytes are gone), large manifest bodies kept in the blob
 * store instead of inline, and registry-wide settings (the token signing key).
 */
export class RegistryGarbageCollection1764400000000 implements MigrationInterface {
  name = 'RegistryGarbageCollection1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE blob_deletions (
      digest text PRIMARY KEY CHECK (digest ~ '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$'),
      marked_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`ALTER TABLE manifests ADD COLUMN content_key text`);
    await q.query(`CREATE INDEX repository_blobs_created ON repository_blobs(created_at)`);
    await q.query(`CREATE INDEX blobs_created ON blobs(created_at)`);
    await q.query(`CREATE TABLE registry_settings (
      name text PRIMARY KEY,
      value text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS registry_settings`);
    await q.query(`DROP INDEX IF EXISTS blobs_created`);
    await q.query(`DROP INDEX IF EXISTS repository_blobs_created`);
    await q.query(`ALTER TABLE manifests DROP COLUMN IF EXISTS content_key`);
    await q.query(`DROP TABLE IF EXISTS blob_deletions`);
  }
}
