import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { ContainerHealth, HealthStatus } from '@muelle/contracts';
import type { Logger } from 'pino';

/** What a health check's state is on disk: enough for a restarted agent to go on where it stopped. */
export interface SavedHealth {
  /** The container's start it belongs to: a later start begins again at `starting`. */
  containerStartedAt: string;
  status: HealthStatus;
  failingStreak: number;
  log: ContainerHealth['log'];
  /** When the check began (the start period counts from it). */
  startedAtMs: number;
}

export interface HealthStore {
  load(id: string): SavedHealth | undefined;
  save(id: string, saved: SavedHealth): void;
}

/**
 * Each container's health state in `containers/<id>/health.json` (beside its `state.json`, removed
 * with its folder), written atomically after every probe. Reads are synchronous: one small file,
 * once per container start or re-adoption.
 */
export class FileHealthStore implements HealthStore {
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly fileOf: (id: string) => string,
    private readonly logger: Logger,
  ) {}

  load(id: string): SavedHealth | undefined {
    let text: string;
    try {
      text = readFileSync(this.fileOf(id), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return JSON.parse(text) as SavedHealth;
    } catch (error) {
      // A torn file cannot happen (rename is atomic), but a bad one only costs the old state: start over.
      this.logger.warn({ err: error, id }, 'saved health state unreadable; the check starts again');
      return undefined;
    }
  }

  /** Writes of one container go one after another (they share the temp file). */
  save(id: string, saved: SavedHealth): void {
    const file = this.fileOf(id);
    const previous = this.writes.get(id) ?? Promise.resolve();
    const next = previous.then(async () => {
      await writeFile(`${file}.tmp`, JSON.stringify(saved));
      await rename(`${file}.tmp`, file);
    });
    const tail = next.catch((error: unknown) => {
      // ENOENT: the container was removed with its folder meanwhile; nothing left to keep.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err: error, id }, 'health state not saved');
    });
    this.writes.set(id, tail);
    void tail.then(() => this.writes.get(id) === tail && this.writes.delete(id));
  }
}
