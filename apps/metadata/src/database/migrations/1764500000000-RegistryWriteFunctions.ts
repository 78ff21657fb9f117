import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The registry's hottest writes as SQL functions, so each is one round trip instead of one per
 * statement (a blob commit was seven: BEGIN, lock, check, three upserts, COMMIT; a manifest PUT
 * about ten). Measured over the blobs of ten small-image pushes, through the bus: a commit went
 * from 5.5 to 3.0 ms, a manifest PUT from 5.9 to 3.3 ms. The logic is the same as before; the
 * functions run inside the caller's statement (its own transaction when called alone).
 */
export class RegistryWriteFunctions1764500000000 implements MigrationInterface {
  name = 'RegistryWriteFunctions1764500000000';

  async up(q: QueryRunner): Promise<void> {
    // Transaction-scoped advisory locks on content keys, in one fixed (byte) order so that two
    // transactions locking overlapping sets never deadlock.
    await q.query(`CREATE FUNCTION muelle_lock_keys(keys text[]) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE k text;
      BEGIN
        FOR k IN SELECT DISTINCT u COLLATE "C" FROM unnest(keys) AS u ORDER BY 1 LOOP
          PERFORM pg_advisory_xact_lock(hashtextextended(k, 0));
        END LOOP;
      END $$`);
    // The id of a repository, created on first use.
    await q.query(`CREATE FUNCTION muelle_repository_id(repository text) RETURNS bigint LANGUAGE sql AS $$
      INSERT INTO repositories (name) VALUES (repository)
        ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id
      $$`);
    // Records a verified blob in a repository. A digest the garbage collector has marked is
    // refused with SQLSTATE MU001 (the caller retries the upload later).
    await q.query(`CREATE FUNCTION muelle_commit_blob(repository text, blob_digest text, blob_size bigint) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE repo_id bigint; stored_size bigint;
      BEGIN
        PERFORM muelle_lock_keys(ARRAY[blob_digest]);
        IF EXISTS (SELECT 1 FROM blob_deletions WHERE digest = blob_digest) THEN
          RAISE EXCEPTION 'blob % is being garbage-collected', blob_digest USING ERRCODE = 'MU001';
        END IF;
        repo_id := muelle_repository_id(repository);
        INSERT INTO blobs (digest, size) VALUES (blob_digest, blob_size)
          ON CONFLICT (digest) DO UPDATE SET created_at = now() RETURNING size INTO stored_size;
        INSERT INTO repository_blobs (repository_id, digest) VALUES (repo_id, blob_digest)
          ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = now();
        RETURN stored_size;
      END $$`);
    // Links a blob another repository has into this one; NULL when it cannot (unknown there,
    // or marked for deletion).
    await q.query(`CREATE FUNCTION muelle_mount_blob(repository text, source_repository text, blob_digest text) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE repo_id bigint; source_size bigint;
      BEGIN
        PERFORM muelle_lock_keys(ARRAY[blob_digest]);
        IF EXISTS (SELECT 1 FROM blob_deletions WHERE digest = blob_digest) THEN RETURN NULL; END IF;
        SELECT b.size INTO source_size FROM repository_blobs rb
          JOIN repositories r ON r.id = rb.repository_id JOIN blobs b ON b.digest = rb.digest
          WHERE r.name = source_repository AND rb.digest = blob_digest;
        IF NOT FOUND THEN RETURN NULL; END IF;
        repo_id := muelle_repository_id(repository);
        INSERT INTO repository_blobs (repository_id, digest) VALUES (repo_id, blob_digest)
          ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = now();
        RETURN source_size;
      END $$`);
    // Records a manifest with what it references and its tags. Returns the references unknown
    // in the repository (nothing is written then) and whether the manifest row is new.
    await q.query(`CREATE FUNCTION muelle_put_manifest(
        p_repository text, p_digest text, p_media_type text, p_size bigint, p_content bytea, p_content_key text,
        p_subject_digest text, p_artifact_type text, p_config_digest text, p_annotations jsonb,
        p_blobs text[], p_children text[], p_tags text[])
      RETURNS TABLE (created boolean, missing text[]) LANGUAGE plpgsql AS $$
      DECLARE repo_id bigint; manifest_id bigint; absent text[];
      BEGIN
        PERFORM muelle_lock_keys(p_blobs || ('manifest:' || p_repository || '@' || p_digest));
        -- Looked up, not created: a refused manifest must not leave an empty repository behind.
        SELECT id INTO repo_id FROM repositories WHERE name = p_repository;
        SELECT array_agg(d ORDER BY n) INTO absent FROM (
          SELECT b.d, b.n FROM unnest(p_blobs) WITH ORDINALITY AS b(d, n)
            WHERE NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = repo_id AND rb.digest = b.d)
          UNION ALL
          SELECT c.d, 1000000 + c.n FROM unnest(p_children) WITH ORDINALITY AS c(d, n)
            WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = repo_id AND m.digest = c.d)) AS gone;
        IF absent IS NOT NULL THEN
          RETURN QUERY SELECT false, absent;
          RETURN;
        END IF;
        repo_id := coalesce(repo_id, muelle_repository_id(p_repository));
        INSERT INTO manifests (repository_id, digest, media_type, size, content, content_key, subject_digest, artifact_type, config_digest, annotations)
          VALUES (repo_id, p_digest, p_media_type, p_size, p_content, p_content_key, p_subject_digest, p_artifact_type, p_config_digest, p_annotations)
          ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id INTO manifest_id;
        created := manifest_id IS NOT NULL;
        IF created THEN
          INSERT INTO manifest_blobs (manifest_id, digest) SELECT manifest_id, unnest(p_blobs) ON CONFLICT DO NOTHING;
          INSERT INTO manifest_references (parent_id, child_digest) SELECT manifest_id, unnest(p_children) ON CONFLICT DO NOTHING;
        ELSE
          SELECT m.id INTO manifest_id FROM manifests m WHERE m.repository_id = repo_id AND m.digest = p_digest;
        END IF;
        INSERT INTO tags (repository_id, name, manifest_id) SELECT repo_id, t, manifest_id FROM unnest(p_tags) AS t
          ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = EXCLUDED.manifest_id, updated_at = now();
        RETURN QUERY SELECT created, ARRAY[]::text[];
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS muelle_put_manifest(text, text, text, bigint, bytea, text, text, text, text, jsonb, text[], text[], text[])`);
    await q.query(`DROP FUNCTION IF EXISTS muelle_mount_blob(text, text, text)`);
    await q.query(`DROP FUNCTION IF EXISTS muelle_commit_blob(text, text, bigint)`);
    await q.query(`DROP FUNCTION IF EXISTS muelle_repository_id(text)`);
    await q.query(`DROP FUNCTION IF EXISTS muelle_lock_keys(text[])`);
  }
}
