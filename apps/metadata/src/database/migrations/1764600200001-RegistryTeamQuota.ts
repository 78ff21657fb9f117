import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Registry storage quotas per team (team_quotas.max_registry_bytes). A team's repositories are
 * the ones under `<team>/`; its usage is the size of the distinct blobs linked into them, so a blob
 * counts once however many of its repositories hold it. The check runs in the same statement
 * (and so the same transaction) as the link, under a per-team advisory lock taken before the
 * digest locks, so concurrent pushes of one team cannot overshoot together.
 */
export class RegistryTeamQuota1764600200001 implements MigrationInterface {
  name = 'RegistryTeamQuota1764600200001';

  async up(q: QueryRunner): Promise<void> {
    // Raises SQLSTATE MU002 (DETAIL: the figures as JSON) when linking blob_digest into
    // repository would take its team over the quota; does nothing for teams without one.
    await q.query(`CREATE FUNCTION muelle_check_registry_quota(repository text, blob_digest text, blob_size bigint) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE t_id uuid; t_name text; quota bigint; used bigint;
      BEGIN
        SELECT t.id, t.name, tq.max_registry_bytes INTO t_id, t_name, quota
          FROM teams t JOIN team_quotas tq ON tq.team_id = t.id
          WHERE left(repository, length(t.name) + 1) = t.name || '/' AND tq.max_registry_bytes IS NOT NULL;
        IF NOT FOUND THEN RETURN; END IF;
        PERFORM pg_advisory_xact_lock(7101002, hashtext(t_id::text));
        IF EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
                    WHERE rb.digest = blob_digest AND left(r.name, length(t_name) + 1) = t_name || '/') THEN
          RETURN; -- already counted for this team
        END IF;
        SELECT coalesce(sum(b.size), 0) INTO used FROM blobs b
          WHERE b.digest IN (SELECT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
                              WHERE left(r.name, length(t_name) + 1) = t_name || '/');
        IF used + blob_size > quota THEN
          RAISE EXCEPTION 'team % registry storage quota exceeded', t_name USING ERRCODE = 'MU002',
            DETAIL = json_build_object('team', t_name, 'quota', quota, 'used', used, 'asked', blob_size)::text;
        END IF;
      END $$`);
    await q.query(`CREATE FUNCTION muelle_commit_team_blob(repository text, blob_digest text, blob_size bigint) RETURNS bigint LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM muelle_check_registry_quota(repository, blob_digest, blob_size);
        RETURN muelle_commit_blob(repository, blob_digest, blob_size);
      END $$`);
    await q.query(`CREATE FUNCTION muelle_mount_team_blob(repository text, source_repository text, blob_digest text) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE blob_size bigint;
      BEGIN
        SELECT size INTO blob_size FROM blobs WHERE digest = blob_digest;
        IF FOUND THEN PERFORM muelle_check_registry_quota(repository, blob_digest, blob_size); END IF;
        RETURN muelle_mount_blob(repository, source_repository, blob_digest);
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS muelle_mount_team_blob(text, text, text)`);
    await q.query(`DROP FUNCTION IF EXISTS muelle_commit_team_blob(text, text, bigint)`);
    await q.query(`DROP FUNCTION IF EXISTS muelle_check_registry_quota(text, text, bigint)`);
  }
}
