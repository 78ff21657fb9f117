import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { BusClient } from '@muelle/bus';
import { failInterruptedBuilds, saveBuildRecord, type BuildRecord } from '@muelle/contracts';
import type { Logger } from 'pino';

/** Where build records outlive this process. */
export interface BuildRecordSink {
  /** The builder instance the records name (told to whoever starts a build). */
  readonly builderId?: string;
  save(record: BuildRecord): Promise<void>;
}

/** Build records kept in metadata, tagged with this builder's id. */
export class MetadataBuildRecords implements BuildRecordSink {
  constructor(
    private readonly bus: BusClient,
    readonly builderId: string,
  ) {}

  async save(record: BuildRecord): Promise<void> {
    await this.bus.request(saveBuildRecord, { ...record, builderId: this.builderId });
  }

  /**
   * Marks the builds this builder was running before `startedBefore` (its start) failed: they
   * died with the previous process. Retried until metadata answers (it may start after us).
   */
  failInterrupted(startedBefore: Date, logger: Logger, stopped: AbortSignal): Promise<void> {
    const attempt = async (retryMs: number): Promise<void> => {
      if (stopped.aborted) return;
      try {
        const { failed } = await this.bus.request(failInterruptedBuilds, { builderId: this.builderId, startedBefore: startedBefore.toISOString() });
        if (failed.length) logger.warn({ builds: failed }, 'builds interrupted by the previous stop are marked failed');
      } catch (error) {
        logger.warn({ err: error, retryInSeconds: retryMs / 1000 }, 'could not mark interrupted builds failed yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
        return attempt(Math.min(retryMs * 2, 30_000));
      }
    };
    return attempt(1_000);
  }
}

/** This builder's id: made once and kept in its data folder, so a restart knows its own builds. */
export async function builderIdOf(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'builder-id');
  const kept = await fs.readFile(file, 'utf8').then(
    (text) => text.trim(),
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return ''; // first start: made below
      throw error;
    },
  );
  if (/^[a-f0-9]{32}$/.test(kept)) return kept;
  const id = randomBytes(16).toString('hex');
  await fs.writeFile(`${file}.tmp`, `${id}\n`, { mode: 0o600 });
  await fs.rename(`${file}.tmp`, file);
  return id;
}
