import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  ConflictError,
  InvalidArgumentError,
  ManifestRecord,
  NotFoundError,
  PermissionDeniedError,
  RegistryErrorCode,
  RepositoryRecord,
  UnavailableError,
  UploadPart,
  UploadSession,
  formatBytes,
} from '@muelle/contracts';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { rowsOf } from './registry-sql';

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

const notFound = (registryCode: RegistryErrorCode, message: string, extra: object = {}) => new NotFoundError(message, { registryCode, ...extra });

export interface PutManifestInput {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  content?: string;
  contentKey?: string;
  tags: string[];
  subjectDigest?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
  configDigest?: string;
  blobs: string[];
  manifests: string[];
}

/**
 * The registry's names, tags, manifests, blob membership and upload sessions, in SQL.
 *
 * Concurrency: every change that can make a digest referenced (blob commit, mount, manifest
 * PUT) and every GC step that can make it unreferenced takes the same transaction-scoped
 * advisory lock on that digest, so GC never deletes bytes something is about to use.
 */
@Injectable()
export class RegistryMetadataService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  // ------------------------------------------------------------ repositories

  async getRepository(name: string): Promise<RepositoryRecord> {
    const rows = await this.db.query(`SELECT name, anonymous_pull, shared, created_at FROM repositories WHERE name = $1`, [name]);
    if (!rows.length) throw notFound('NAME_UNKNOWN', `repository ${name} not known`);
    return toRepository(rows[0]);
  }

  async setAnonymousPull(name: string, anonymousPull: boolean): Promise<RepositoryRecord> {
    const rows = await this.db.query(
      `INSERT INTO repositories (name, anonymous_pull) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET anonymous_pull = EXCLUDED.anonymous_pull
       RETURNING name, anonymous_pull, shared, created_at`,
      [name, anonymousPull],
    );
    return toRepository(rows[0]);
  }

  async setShared(name: string, shared: boolean): Promise<RepositoryRecord> {
    const rows = await this.db.query(
      `INSERT INTO repositories (name, shared) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET shared = EXCLUDED.shared
       RETURNING name, anonymous_pull, shared, created_at`,
      [name, shared],
    );
    return toRepository(rows[0]);
  }

  async listCatalog(n: number, last?: string) {
    const rows: { name: string; shared: boolean; anonymous_pull: boolean }[] = await this.db.query(
      `SELECT name, shared, anonymous_pull FROM repositories WHERE ($1::text IS NULL OR name > $1 COLLATE "C") ORDER BY name COLLATE "C" LIMIT $2`,
      [last ?? null, n + 1],
    );
    const page = rows.slice(0, n);
    return {
      repositories: page.map((r) => r.name),
      hasMore: rows.length > n,
      shared: page.filter((r) => r.shared).map((r) => r.name),
      anonymousPull: page.filter((r) => r.anonymous_pull).map((r) => r.name),
    };
  }

  // ------------------------------------------------------------ blobs

  async statBlob(repository: string, digest: string) {
    const rows = await this.db.query(
      `SELECT b.size FROM repository_blobs rb
         JOIN repositories r ON r.id = rb.repository_id
         JOIN blobs b ON b.digest = rb.digest
       WHERE r.name = $1 AND rb.digest = $2`,
      [repository, digest],
    );
    if (!rows.length) throw notFound('BLOB_UNKNOWN', `blob ${digest} is not in ${repository}`);
    return { digest, size: Number(rows[0].size) };
  }

  /** With `upload`: closes that session in the same statement (a refused commit rolls the close back too). */
  async commitBlob(repository: string, digest: string, size: number, upload?: string) {
    try {
      // The team variant checks the team's registry quota first (migration RegistryTeamQuota).
      if (!upload) {
        const rows = await this.db.query(`SELECT muelle_commit_team_blob($1, $2, $3) AS size`, [repository, digest, size]);
        return { digest, size: Number(rows[0].size) };
      }
      const rows = await this.db.query(
        `WITH closed AS (DELETE FROM upload_sessions WHERE id = $4 AND repository_name = $1 RETURNING parts)
         SELECT muelle_commit_team_blob($1, $2, $3) AS size, (SELECT parts FROM closed) AS parts`,
        [repository, digest, size, upload],
      );
      const parts = rows[0].parts as UploadPart[] | null;
      return { digest, size: Number(rows[0].size), ...(parts ? { closedParts: parts } : {}) };
    } catch (error) {
      if (sqlState(error) === BEING_COLLECTED) throw beingCollected(digest);
      if (sqlState(error) === OVER_QUOTA) throw overQuota(error);
      throw error;
    }
  }

  async mountBlob(repository: string, from: string, digest: string) {
    let rows;
    try {
      rows = await this.db.query(`SELECT muelle_mount_team_blob($1, $2, $3) AS size`, [repository, from, digest]);
    } catch (error) {
      if (sqlState(error) === OVER_QUOTA) throw overQuota(error);
      throw error;
    }
    const size = rows[0].size;
    return size === null ? { mounted: false, size: null } : { mounted: true, size: Number(size) };
  }

  async deleteBlob(repository: string, digest: string) {
    const rows = await this.db.query(
      `DELETE FROM repository_blobs rb USING repositories r
       WHERE r.id = rb.repository_id AND r.name = $1 AND rb.digest = $2 RETURNING rb.digest`,
      [repository, digest],
    );
    if (!rowsOf(rows).length) throw notFound('BLOB_UNKNOWN', `blob ${digest} is not in ${repository}`);
    return { deleted: true as const };
  }

  async knownBlobs(digests: string[]) {
    if (!digests.length) return { known: [] };
    const rows: { digest: string }[] = await this.db.query(`SELECT digest FROM blobs WHERE digest = ANY($1)`, [digests]);
    return { known: rows.map((r) => r.digest) };
  }

  // ------------------------------------------------------------ manifests

  async putManifest(input: PutManifestInput) {
    const [result] = await this.db.query(
      `SELECT created, missing FROM muelle_put_manifest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[], $12::text[], $13::text[])`,
      [
        input.repository,
        input.digest,
        input.mediaType,
        input.size,
        input.content !== undefined ? Buffer.from(input.content, 'base64') : Buffer.alloc(0),
        input.contentKey ?? null,
        input.subjectDigest ?? null,
        input.artifactType ?? null,
        input.configDigest ?? null,
        input.annotations ? JSON.stringify(input.annotations) : null,
        [...new Set(input.blobs)],
        [...new Set(input.manifests)],
        [...new Set(input.tags)],
      ],
    );
    const missing: string[] = result.missing ?? [];
    if (missing.length) {
      throw new InvalidArgumentError(`manifest references content unknown in ${input.repository}: ${missing.slice(0, 5).join(', ')}`, {
        registryCode: 'MANIFEST_BLOB_UNKNOWN' satisfies RegistryErrorCode,
        digests: missing.slice(0, 100),
      });
    }
    const created: boolean = result.created;
    return { digest: input.digest, created, unusedContentKey: !created && input.contentKey ? input.contentKey : null };
  }

  async getManifest(repository: string, reference: string): Promise<ManifestRecord> {
    const byDigest = DIGEST.test(reference);
    const rows = await this.db.query(
      byDigest
        ? `SELECT m.digest, m.media_type, m.size, m.content, m.content_key FROM manifests m JOIN repositories r ON r.id = m.repository_id
           WHERE r.name = $1 AND m.digest = $2`
        : `SELECT m.digest, m.media_type, m.size, m.content, m.content_key FROM tags t
             JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id
           WHERE r.name = $1 AND t.name = $2`,
      [repository, reference],
    );
    if (!rows.length) throw notFound('MANIFEST_UNKNOWN', `manifest ${reference} is not in ${repository}`);
    const row = rows[0];
    return {
      digest: row.digest,
      mediaType: row.media_type,
      size: Number(row.size),
      ...(row.content_key ? { contentKey: row.content_key } : { content: Buffer.from(row.content).toString('base64') }),
    };
  }

  async deleteManifest(repository: string, reference: string) {
    if (!DIGEST.test(reference)) {
      const result = await this.db.query(
        `DELETE FROM tags t USING repositories r WHERE r.id = t.repository_id AND r.name = $1 AND t.name = $2 RETURNING t.name`,
        [repository, reference],
      );
      if (!rowsOf(result).length) throw notFound('MANIFEST_UNKNOWN', `tag ${reference} is not in ${repository}`);
      return { deletedContentKeys: [] };
    }
    const result = await this.db.query(
      `DELETE FROM manifests m USING repositories r WHERE r.id = m.repository_id AND r.name = $1 AND m.digest = $2 RETURNING m.content_key`,
      [repository, reference],
    );
    const rows = rowsOf(result);
    if (!rows.length) throw notFound('MANIFEST_UNKNOWN', `manifest ${reference} is not in ${repository}`);
    return { deletedContentKeys: rows.map((r: { content_key: string | null }) => r.content_key).filter((k: string | null): k is string => !!k) };
  }

  async listTags(repository: string, n: number, last?: string) {
    const repo = await this.db.query(`SELECT id FROM repositories WHERE name = $1`, [repository]);
    if (!repo.length) throw notFound('NAME_UNKNOWN', `repository ${repository} not known`);
    const rows: { name: string }[] = await this.db.query(
      `SELECT name FROM tags WHERE repository_id = $1 AND ($2::text IS NULL OR name > $2 COLLATE "C") ORDER BY name COLLATE "C" LIMIT $3`,
      [repo[0].id, last ?? null, n + 1],
    );
    return { tags: rows.slice(0, n).map((r) => r.name), hasMore: rows.length > n };
  }

  async listReferrers(repository: string, digest: string, artifactType?: string) {
    const rows = await this.db.query(
      `SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM manifests m JOIN repositories r ON r.id = m.repository_id
       WHERE r.name = $1 AND m.subject_digest = $2 AND ($3::text IS NULL OR m.artifact_type = $3)
       ORDER BY m.created_at, m.digest`,
      [repository, digest, artifactType ?? null],
    );
    return {
      manifests: rows.map((r: any) => ({
        mediaType: r.media_type,
        digest: r.digest,
        size: Number(r.size),
        ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
      })),
    };
  }

  // ------------------------------------------------------------ uploads

  async createUpload(id: string, repository: string, principal: string | null): Promise<UploadSession> {
    const rows = await this.db.query(
      `INSERT INTO upload_sessions (id, repository_name, principal) VALUES ($1, $2, $3) RETURNING *`,
      [id, repository, principal],
    );
    return toUpload(rows[0]);
  }

  async getUpload(id: string): Promise<UploadSession> {
    const rows = await this.db.query(`SELECT * FROM upload_sessions WHERE id = $1`, [id]);
    if (!rows.length) throw notFound('BLOB_UPLOAD_UNKNOWN', `upload ${id} not known`);
    return toUpload(rows[0]);
  }

  async advanceUpload(id: string, expectedOffset: number, part: UploadPart): Promise<UploadSession> {
    const result = await this.db.query(
      `UPDATE upload_sessions SET byte_offset = byte_offset + $3, parts = parts || $4::jsonb, updated_at = now()
       WHERE id = $1 AND byte_offset = $2 RETURNING *`,
      [id, expectedOffset, part.size, JSON.stringify([part])],
    );
    const rows = rowsOf(result);
    if (rows.length) return toUpload(rows[0]);
    const current = await this.getUpload(id);
    throw new ConflictError(`upload ${id} is at offset ${current.offset}, not ${expectedOffset}`, { offset: current.offset });
  }

  async deleteUpload(id: string) {
    const rows = rowsOf(await this.db.query(`DELETE FROM upload_sessions WHERE id = $1 RETURNING parts`, [id]));
    if (!rows.length) throw notFound('BLOB_UPLOAD_UNKNOWN', `upload ${id} not known`);
    return { parts: rows[0].parts as UploadPart[] };
  }

  async expireUploads(idleSeconds: number, limit: number) {
    const rows = rowsOf(
      await this.db.query(
        `DELETE FROM upload_sessions WHERE id IN (
           SELECT id FROM upload_sessions WHERE updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2)
         RETURNING id, parts`,
        [idleSeconds, limit],
      ),
    );
    return { sessions: rows.map((r: { id: string; parts: UploadPart[] }) => ({ id: r.id, parts: r.parts })) };
  }

  // ------------------------------------------------------------ auth

  async signingKey() {
    await this.db.query(`INSERT INTO registry_settings (name, value) VALUES ('token_signing_key', $1) ON CONFLICT (name) DO NOTHING`, [
      randomBytes(32).toString('base64'),
    ]);
    const rows = await this.db.query(`SELECT value FROM registry_settings WHERE name = 'token_signing_key'`);
    return { key: rows[0].value as string };
  }
}

/** SQLSTATE raised by muelle_commit_blob for a digest the garbage collector has marked. */
const BEING_COLLECTED = 'MU001';

function beingCollected(digest: string): UnavailableError {
  return new UnavailableError(`blob ${digest} is being garbage-collected; retry the upload`, { registryCode: 'BLOB_BEING_COLLECTED' satisfies RegistryErrorCode });
}

/** SQLSTATE raised by muelle_check_registry_quota; its DETAIL carries the figures as JSON. */
const OVER_QUOTA = 'MU002';

function overQuota(error: unknown): PermissionDeniedError {
  const driverError = (error as { driverError?: { detail?: string } })?.driverError ?? (error as { detail?: string });
  const f = JSON.parse(driverError?.detail ?? '{}') as { team?: string; quota?: number; used?: number; asked?: number };
  return new PermissionDeniedError(
    `team ${f.team}: registry storage quota ${formatBytes(Number(f.quota))}, ${formatBytes(Number(f.used))} used, ${formatBytes(Number(f.asked))} asked`,
    { quota: 'registryBytes' },
  );
}

function sqlState(error: unknown): string | undefined {
  const driverError = (error as { driverError?: { code?: string } })?.driverError;
  return driverError?.code ?? (error as { code?: string })?.code;
}

function toRepository(row: any): RepositoryRecord {
  return { name: row.name, anonymousPull: row.anonymous_pull, shared: row.shared, createdAt: new Date(row.created_at).toISOString() };
}

function toUpload(row: any): UploadSession {
  return {
    id: row.id,
    repository: row.repository_name,
    principal: row.principal,
    offset: Number(row.byte_offset),
    parts: row.parts ?? [],
    startedAt: new Date(row.started_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
