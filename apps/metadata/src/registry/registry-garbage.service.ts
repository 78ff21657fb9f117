import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { lockDigests, rowsOf } from './registry-sql';

/** Marks older than this belong to a GC run that died between marking and deleting: hand them out again. */
const STALE_MARK_SECONDS = 600;

/**
 * The registry's garbage collection in SQL: untagged manifests, stale blob memberships and
 * unreferenced blobs are marked, then confirmed once their bytes are gone. Every step takes the
 * digest's advisory lock, as commits and mounts do (RegistryMetadataService), so a blob something
 * is about to use is never collected.
 */
@Injectable()
export class RegistryGarbageService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async markGarbage(input: { graceSeconds: number; untaggedManifestSeconds: number | null; orphanDigests: string[]; limit: number }) {
    const { graceSeconds, limit } = input;
    let deletedManifests = 0;
    const manifestContentKeys: string[] = [];

    if (input.untaggedManifestSeconds !== null) {
      // Untagged, not a child of any index in the repository, not a referrer (artifacts follow their subject).
      const candidates: { id: string; name: string; digest: string }[] = await this.db.query(
        `SELECT m.id, r.name, m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
         WHERE m.created_at < now() - make_interval(secs => $1) AND m.subject_digest IS NULL
           AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
           AND NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests p ON p.id = mr.parent_id
                           WHERE p.repository_id = m.repository_id AND mr.child_digest = m.digest)
         ORDER BY m.created_at LIMIT $2`,
        [input.untaggedManifestSeconds, limit],
      );
      for (const candidate of candidates) {
        await this.db.transaction(async (m) => {
          await lockDigests(m, [`manifest:${candidate.name}@${candidate.digest}`]);
          const deleted = rowsOf(
            await m.query(
              `DELETE FROM manifests m WHERE m.id = $1
                 AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
                 AND NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests p ON p.id = mr.parent_id
                                 WHERE p.repository_id = m.repository_id AND mr.child_digest = m.digest)
               RETURNING content_key`,
              [candidate.id],
            ),
          );
          deletedManifests += deleted.length;
          for (const row of deleted) if (row.content_key) manifestContentKeys.push(row.content_key);
        });
      }
    }

    // Memberships nobody touched within the grace period and no manifest of that repository uses.
    const staleMemberships: { repository_id: string; digest: string }[] = await this.db.query(
      `SELECT rb.repository_id, rb.digest FROM repository_blobs rb
       WHERE rb.created_at < now() - make_interval(secs => $1)
         AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                         WHERE m.repository_id = rb.repository_id AND mb.digest = rb.digest)
       LIMIT $2`,
      [graceSeconds, limit],
    );
    for (const membership of staleMemberships) {
      await this.db.transaction(async (m) => {
        await lockDigests(m, [membership.digest]);
        await m.query(
          `DELETE FROM repository_blobs rb WHERE rb.repository_id = $1 AND rb.digest = $2
             AND rb.created_at < now() - make_interval(secs => $3)
             AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                             WHERE m.repository_id = rb.repository_id AND mb.digest = rb.digest)`,
          [membership.repository_id, membership.digest, graceSeconds],
        );
      });
    }

    const candidates: { digest: string }[] = await this.db.query(
      `SELECT b.digest FROM blobs b
       WHERE b.created_at < now() - make_interval(secs => $1)
         AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest)
         AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
         AND NOT EXISTS (SELECT 1 FROM blob_deletions d WHERE d.digest = b.digest)
       LIMIT $2`,
      [graceSeconds, limit],
    );
    const marked: string[] = [];
    for (const digest of [...candidates.map((c) => c.digest), ...input.orphanDigests]) {
      await this.db.transaction(async (m) => {
        await lockDigests(m, [digest]);
        const stillGarbage = await m.query(
          `SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = $1)
             AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE digest = $1)
             AND NOT EXISTS (SELECT 1 FROM blobs WHERE digest = $1 AND created_at >= now() - make_interval(secs => $2))`,
          [digest, graceSeconds],
        );
        if (!stillGarbage.length) return;
        const inserted = rowsOf(await m.query(`INSERT INTO blob_deletions (digest) VALUES ($1) ON CONFLICT DO NOTHING RETURNING digest`, [digest]));
        if (inserted.length) marked.push(digest);
      });
    }
    // Marks left by a GC run that died before confirming.
    const stale: { digest: string }[] = await this.db.query(
      `UPDATE blob_deletions SET marked_at = now() WHERE marked_at < now() - make_interval(secs => $1) RETURNING digest`,
      [STALE_MARK_SECONDS],
    );
    for (const row of rowsOf(stale)) if (!marked.includes(row.digest)) marked.push(row.digest);
    return { digests: marked, deletedManifests, manifestContentKeys };
  }

  async confirmGarbage(digests: string[]) {
    let removed = 0;
    for (const digest of digests) {
      await this.db.transaction(async (m) => {
        await lockDigests(m, [digest]);
        const gone = rowsOf(await m.query(`DELETE FROM blob_deletions WHERE digest = $1 RETURNING digest`, [digest]));
        if (!gone.length) return;
        await m.query(`DELETE FROM blobs WHERE digest = $1`, [digest]);
        removed++;
      });
    }
    return { removed };
  }
}
