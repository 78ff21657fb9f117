import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'pino';

/**
 * PGlite's own start arguments (single-user mode, `-F`: fsync off, no parallel workers, synchronous
 * I/O) plus our tuning for an embedded platform database. `-F` is PGlite's default and changes
 * nothing in practice: its Node filesystem has no fsync to call (ARCHITECTURE.md, Metadata: what a
 * kill -9 and a power cut each do to the embedded database). shared_buffers: the data folder's
 * initdb wrote 128MB, which PGlite allocates and clears inside its WebAssembly memory at every
 * start; 16MB holds the metadata working set (the catalog and a few thousand records) and, measured
 * on the 2-core CI machine, cut opening an existing database by about a quarter of its CPU time
 * (≈1.9 s → 1.4 s) and the process's resident memory by ≈120 MB.
 */
export const EMBEDDED_START_PARAMS = [
  '--single',
  '-F',
  '-O',
  '-j',
  '-c',
  'search_path=public',
  '-c',
  'exit_on_error=false',
  '-c',
  'log_checkpoints=false',
  '-c',
  'max_worker_processes=0',
  '-c',
  'max_parallel_workers=0',
  '-c',
  'max_parallel_workers_per_gather=0',
  '-c',
  'io_method=sync',
  '-c',
  'max_parallel_maintenance_workers=0',
  '-c',
  'shared_buffers=16MB',
];

/** PGlite open and served on a private unix socket (`<runDir>/.s.PGSQL.5432`) for the `pg` driver. */
export interface EmbeddedDatabase {
  db: PGlite;
  runDir: string;
  path: string;
  close(): Promise<void>;
}

/**
 * Opens the embedded database in `<dataDir>/db` and serves it on its socket. Independent of
 * TypeORM and Nest, so the all-in-one starts it before loading the services' modules: its file
 * reads and WebAssembly compilation run in the background while they load. The caller holds the
 * data folder's lock.
 */
export async function startEmbeddedDatabase(dataDir: string, logger: Logger): Promise<EmbeddedDatabase> {
  // Loaded lazily so the Postgres-server path never pays for them.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const root = resolve(dataDir);
  const runDir = join(root, 'run');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const socketPath = join(runDir, '.s.PGSQL.5432');
  removeLeftoversOfAnUncleanStop(root, socketPath, logger);
  const path = join(root, 'db');
  const db = await PGlite.create(path, { startParams: EMBEDDED_START_PARAMS });
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 1 });
  try {
    await server.start();
  } catch (error) {
    await db.close().catch((closing) => logger.warn({ err: closing }, 'PGlite did not close cleanly'));
    throw error;
  }
  return {
    db,
    runDir,
    path,
    async close() {
      // Closing: each step runs even if the one before failed.
      await server.stop().catch((error) => logger.warn({ err: error }, 'PGlite socket server did not stop cleanly'));
      await db.close().catch((error) => logger.warn({ err: error }, 'PGlite did not close cleanly'));
    },
  };
}

/**
 * A process killed while the embedded database was open leaves its unix socket (the next listen
 * fails with EADDRINUSE) and PostgreSQL's `postmaster.pid`. The caller holds the data folder's lock
 * (`muelle.lock`), so no live process can own them: they are removed before opening. PGlite replays
 * its WAL by itself, like PostgreSQL after a crash.
 */
export function removeLeftoversOfAnUncleanStop(dataDir: string, socketPath: string, logger: Logger): void {
  for (const [path, expect] of [
    [socketPath, 'socket'],
    [join(dataDir, 'db', 'postmaster.pid'), 'file'],
  ] as const) {
    let stat;
    try {
      stat = lstatSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (expect === 'socket' ? !stat.isSocket() : !stat.isFile()) throw new Error(`${path} is not a ${expect}; refusing to remove it`);
    unlinkSync(path);
    logger.warn({ path }, 'removed what an unclean stop left behind');
  }
}
