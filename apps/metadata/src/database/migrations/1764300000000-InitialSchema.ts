import { MigrationInterface, QueryRunner } from 'typeorm';

/** The first schema: everything the registry, agents, scheduler and builder record. See apps/metadata/SCHEMA.md. */
export class InitialSchema1764300000000 implements MigrationInterface {
  name = 'InitialSchema1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE teams (
      id uuid PRIMARY KEY,
      name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE users (
      id uuid PRIMARY KEY,
      username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
      password_hash text NOT NULL,
      role text NOT NULL CHECK (role IN ('admin', 'member')),
      team_id uuid REFERENCES teams(id) ON DELETE SET NULL,
      disabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE tokens (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      name text NOT NULL,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      revoked_at timestamptz)`);
    await q.query(`CREATE INDEX tokens_user ON tokens(user_id)`);
    await q.query(`CREATE TABLE hosts (
      id text PRIMARY KEY,
      address text NOT NULL,
      capacity jsonb NOT NULL,
      labels jsonb NOT NULL DEFAULT '{}',
      state text NOT NULL CHECK (state IN ('ready', 'down')),
      cordoned boolean NOT NULL DEFAULT false,
      agent_version text NOT NULL,
      registered_at timestamptz NOT NULL DEFAULT now(),
      last_heartbeat_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX hosts_state ON hosts(state, last_heartbeat_at)`);
    await q.query(`CREATE TABLE repositories (
      id bigserial PRIMARY KEY,
      name text NOT NULL UNIQUE CHECK (length(name) < 256),
      team_id uuid REFERENCES teams(id) ON DELETE SET NULL,
      anonymous_pull boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE blobs (
      digest text PRIMARY KEY CHECK (digest ~ '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$'),
      size bigint NOT NULL CHECK (size >= 0),
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE repository_blobs (
      repository_id bigint NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
      digest text NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (repository_id, digest))`);
    await q.query(`CREATE INDEX repository_blobs_digest ON repository_blobs(digest)`);
    await q.query(`CREATE TABLE manifests (
      id bigserial PRIMARY KEY,
      repository_id bigint NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
      digest text NOT NULL,
      media_type text NOT NULL,
      size integer NOT NULL CHECK (size >= 0 AND size <= 4194304),
      content bytea NOT NULL,
      subject_digest text,
      artifact_type text,
      config_digest text,
      annotations jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (repository_id, digest))`);
    await q.query(`CREATE INDEX manifests_subject ON manifests(repository_id, subject_digest) WHERE subject_digest IS NOT NULL`);
    await q.query(`CREATE TABLE manifest_blobs (
      manifest_id bigint NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
      digest text NOT NULL REFERENCES blobs(digest),
      PRIMARY KEY (manifest_id, digest))`);
    await q.query(`CREATE INDEX manifest_blobs_digest ON manifest_blobs(digest)`);
    await q.query(`CREATE TABLE manifest_references (
      parent_id bigint NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
      child_digest text NOT NULL,
      PRIMARY KEY (parent_id, child_digest))`);
    await q.query(`CREATE INDEX manifest_references_child ON manifest_references(child_digest)`);
    await q.query(`CREATE TABLE tags (
      repository_id bigint NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
      name text NOT NULL CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$'),
      manifest_id bigint NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (repository_id, name))`);
    await q.query(`CREATE INDEX tags_manifest ON tags(manifest_id)`);
    await q.query(`CREATE TABLE upload_sessions (
      id uuid PRIMARY KEY,
      repository_name text NOT NULL,
      principal text,
      byte_offset bigint NOT NULL DEFAULT 0,
      hash_state bytea,
      parts jsonb NOT NULL DEFAULT '[]',
      started_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX upload_sessions_updated ON upload_sessions(updated_at)`);
    await q.query(`CREATE TABLE containers (
      id char(64) PRIMARY KEY CHECK (id ~ '^[a-f0-9]{64}$'),
      name text NOT NULL UNIQUE CHECK (name ~ '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$'),
      team_id uuid REFERENCES teams(id) ON DELETE SET NULL,
      host_id text REFERENCES hosts(id) ON DELETE SET NULL,
      image text NOT NULL,
      image_digest text,
      spec jsonb NOT NULL,
      labels jsonb NOT NULL DEFAULT '{}',
      state text NOT NULL CHECK (state IN ('created', 'running', 'paused', 'restarting', 'exited', 'lost', 'removing', 'dead')),
      exit_code integer,
      oom_killed boolean NOT NULL DEFAULT false,
      restart_count integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      finished_at timestamptz)`);
    await q.query(`CREATE INDEX containers_list ON containers(team_id, created_at DESC, id)`);
    await q.query(`CREATE INDEX containers_host ON containers(host_id, state)`);
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
    await q.query(`CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      actor text NOT NULL,
      action text NOT NULL,
      target text NOT NULL,
      details jsonb)`);
    await q.query(`CREATE INDEX audit_log_at ON audit_log(at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'audit_log', 'builds', 'containers', 'upload_sessions', 'tags', 'manifest_references', 'manifest_blobs',
      'manifests', 'repository_blobs', 'blobs', 'repositories', 'hosts', 'tokens', 'users', 'teams',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
