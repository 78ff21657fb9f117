import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { confirmGarbage, expireUploads, getUpload, knownBlobs, markGarbage, NotFoundError } from '@muelle/contracts';
import { LOGGER, ServiceMetrics } from '@muelle/service-kit';
import { Counter } from 'prom-client';
import type { BlobStore } from '@muelle/storage';
import type { Logger } from 'pino';
import { BlobsService } from '../blobs/blobs.service';
import type { RegistryConfig } from '../config';
import { blobKey, digestOfBlobKey } from '../storage/keys';
import { BLOB_STORE, REGISTRY_CONFIG } from '../tokens';

export interface GcReport {
  deletedManifests: number;
  deletedBlobs: string[];
  purgedUploads: number;
  /** Bytes of the deleted blobs and manifest bodies. */
  freedBytes: number;
}

const BATCH = 500;

/**
 * Online garbage collection, safe while pushes run (see apps/registry/README.md):
 * metadata marks digests that nothing references and nothing touched within the grace period
 * (a marked digest cannot be committed or mounted), we delete their bytes, then confirm.
 * Bytes in the CAS without any row (a crash between write and commit) go the same way once
 * older than the grace period. Idle upload sessions are purged with their parts, and so are
 * upload files no session records (a crash or a lost delete in the middle of a chunk).
 */
@Injectable()
export class GarbageCollectorService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private running?: Promise<GcReport>;
  private readonly runs: Counter<'result'>;
  private readonly freed: Counter;
  private readonly deletedBlobs: Counter;

  constructor(
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    private readonly bus: BusClient,
    @Inject(BLOB_STORE) private readonly store: BlobStore,
    private readonly blobs: BlobsService,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: ServiceMetrics,
  ) {
    const registers = [metrics.registry];
    this.runs = new Counter({ name: 'muelle_registry_gc_runs_total', help: 'Garbage collection passes by result', labelNames: ['result'], registers });
    this.freed = new Counter({ name: 'muelle_registry_gc_freed_bytes_total', help: 'Bytes of blobs and manifest bodies deleted by garbage collection', registers });
    this.deletedBlobs = new Counter({ name: 'muelle_registry_gc_deleted_blobs_total', help: 'Blobs deleted by garbage collection', registers });
  }

  onApplicationBootstrap(): void {
    void this.sweepPartsAtStart();
    const interval = this.config.MUELLE_REGISTRY_GC_INTERVAL_SECONDS;
    if (interval <= 0) return;
    this.timer = setInterval(() => {
      this.run().catch((error) => this.logger.warn({ err: error }, 'garbage collection failed'));
    }, interval * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** One full pass; concurrent calls share the pass in progress. */
  run(options: { graceSeconds?: number; untaggedManifestSeconds?: number | null } = {}): Promise<GcReport> {
    this.running ??= this.pass(options)
      .then(
        (report) => {
          this.runs.inc({ result: 'ok' });
          this.freed.inc(report.freedBytes);
          this.deletedBlobs.inc(report.deletedBlobs.length);
          return report;
        },
        (error: unknown) => {
          this.runs.inc({ result: 'error' });
          throw error;
        },
      )
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(options: { graceSeconds?: number; untaggedManifestSeconds?: number | null }): Promise<GcReport> {
    const graceSeconds = options.graceSeconds ?? this.config.MUELLE_REGISTRY_GC_GRACE_SECONDS;
    const untaggedManifestSeconds =
      options.untaggedManifestSeconds !== undefined ? options.untaggedManifestSeconds : (this.config.MUELLE_REGISTRY_GC_UNTAGGED_AFTER_SECONDS ?? null);
    const purgedUploads = await this.purgeUploads();
    const orphans = await this.findOrphans(graceSeconds);
    const report: GcReport = { deletedManifests: 0, deletedBlobs: [], purgedUploads, freedBytes: 0 };
    for (let round = 0; round < 100; round++) {
      const marked = await this.bus.request(markGarbage, {
        graceSeconds,
        untaggedManifestSeconds,
        orphanDigests: round === 0 ? orphans.slice(0, 1000) : [],
        limit: BATCH,
      });
      report.deletedManifests += marked.deletedManifests;
      // A manifest body that cannot be deleted now stays as an orphan for a later pass.
      for (const key of marked.manifestContentKeys) report.freedBytes += await this.deleteMeasured(key).catch(() => 0);
      if (!marked.digests.length) break;
      const deleted: string[] = [];
      for (const digest of marked.digests) {
        try {
          report.freedBytes += await this.deleteMeasured(blobKey(digest));
          deleted.push(digest);
        } catch (error) {
          // Left marked: the next pass retries it.
          this.logger.warn({ err: error, digest }, 'could not delete blob bytes');
        }
      }
      await this.bus.request(confirmGarbage, { digests: deleted });
      report.deletedBlobs.push(...deleted);
      if (marked.digests.length < BATCH && marked.deletedManifests < BATCH) break;
    }
    if (report.deletedBlobs.length || report.deletedManifests || purgedUploads) this.logger.info({ ...report, deletedBlobs: report.deletedBlobs.length }, 'garbage collected');
    return report;
  }

  /** Deletes one stored object; returns its size (0 when it was already gone). */
  private async deleteMeasured(key: string): Promise<number> {
    const stat = await this.store.stat(key);
    await this.store.delete(key);
    return stat?.size ?? 0;
  }

  private async purgeUploads(): Promise<number> {
    let purged = 0;
    for (;;) {
      const { sessions } = await this.bus.request(expireUploads, { idleSeconds: this.config.MUELLE_REGISTRY_UPLOAD_TTL_SECONDS, limit: 200 });
      for (const session of sessions) await this.blobs.deleteKeys(session.parts.map((part) => part.key));
      purged += sessions.length;
      if (sessions.length < 200) break;
    }
    const cutoff = Date.now() - this.config.MUELLE_REGISTRY_UPLOAD_TTL_SECONDS * 1000;
    await this.deleteStrayParts({ sessionlessBefore: cutoff, unrecordedBefore: cutoff });
    return purged;
  }

  /**
   * At start, upload files a crash left behind go at once instead of after the upload TTL: those of
   * uploads no session owns any more, and — on the filesystem, where this process is the only writer
   * (the data folder's lock) — unrecorded ones written before this process started. On S3 another
   * replica may be between writing a part and recording it, so unrecorded parts must be 10 minutes old.
   * Runs in the background and waits for the bus (metadata may start later in distributed mode).
   */
  async sweepPartsAtStart(attempts = 30): Promise<void> {
    const startedAt = Date.now();
    const unrecordedBefore = this.store.kind === 'filesystem' ? processStartedAt() : startedAt - 10 * 60_000;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const deleted = await this.deleteStrayParts({ sessionlessBefore: startedAt, unrecordedBefore });
        if (deleted) this.logger.info({ files: deleted }, 'removed upload files left by an unclean stop');
        return;
      } catch (error) {
        if (attempt === attempts) this.logger.warn({ err: error }, 'could not sweep upload files at start; the periodic collection will');
        else await new Promise((r) => setTimeout(r, 1_000).unref());
      }
    }
  }

  /**
   * Files under `uploads/` that no live session records: a chunk written when its request or the
   * process died, or a part whose delete failed. Only files modified before the given times are
   * taken (a file still being written is young: each write touches it). Returns how many went.
   */
  private async deleteStrayParts(before: { sessionlessBefore: number; unrecordedBefore: number }): Promise<number> {
    const oldest = Math.max(before.sessionlessBefore, before.unrecordedBefore);
    const byUpload = new Map<string, { key: string; modifiedAt: number }[]>();
    let seen = 0;
    for await (const entry of this.store.list('uploads/')) {
      if (++seen > 10_000) break; // the rest waits for the next pass
      const modifiedAt = entry.modifiedAt.getTime();
      if (modifiedAt >= oldest) continue;
      const id = entry.key.split('/')[1];
      const files = byUpload.get(id) ?? [];
      files.push({ key: entry.key, modifiedAt });
      byUpload.set(id, files);
    }
    let deleted = 0;
    for (const [id, files] of byUpload) {
      let stray: string[];
      try {
        const recorded = new Set((await this.bus.request(getUpload, { id })).parts.map((part) => part.key));
        stray = files.filter((f) => !recorded.has(f.key) && f.modifiedAt < before.unrecordedBefore).map((f) => f.key);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        stray = files.filter((f) => f.modifiedAt < before.sessionlessBefore).map((f) => f.key);
      }
      await this.blobs.deleteKeys(stray);
      deleted += stray.length;
    }
    return deleted;
  }

  /** CAS objects older than the grace period that metadata has no row for. */
  private async findOrphans(graceSeconds: number): Promise<string[]> {
    const cutoff = Date.now() - graceSeconds * 1000;
    const candidates: string[] = [];
    const orphans: string[] = [];
    const flush = async () => {
      const { known } = await this.bus.request(knownBlobs, { digests: candidates });
      orphans.push(...candidates.filter((d) => !known.includes(d)));
      candidates.length = 0;
    };
    for await (const entry of this.store.list('blobs/')) {
      if (entry.modifiedAt.getTime() >= cutoff) continue;
      const digest = digestOfBlobKey(entry.key);
      if (!digest) continue;
      candidates.push(digest);
      if (candidates.length >= 500) await flush();
      if (orphans.length >= 1000) break;
    }
    if (candidates.length) await flush();
    return orphans;
  }
}

export function processStartedAt(): number {
  return Date.now() - process.uptime() * 1000;
}
