import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import type { Logger } from 'pino';
import { entities } from '../entities';
import { migrations } from './migrations';

export interface Database {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

/** Any 64-bit number unique to Muelle's migrations: replicas serialise on it. */
const MIGRATION_LOCK_KEY = '7227420331557390081';

export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    // Fail fast when the server is gone, so /readyz turns red instead of hanging; the pool reconnects by itself.
    extra: { max: 10, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 30_000 },
  };
}

/**
 * Opens the database: a PostgreSQL server when DATABASE_URL is set, else an embedded PGlite
 * served on a private unix socket so TypeORM's ordinary `pg` driver can talk to it.
 */
export async function openDatabase(config: { DATABASE_URL?: string; MUELLE_DATA_DIR: string }, logger: Logger): Promise<Database> {
  if (config.DATABASE_URL) {
    const dataSource = new DataSource(dataSourceOptions(config.DATABASE_URL));
    await initializeWithRetry(dataSource, logger);
    return { dataSource, embedded: false, close: async () => void (dataSource.isInitialized && (await dataSource.destroy())) };
  }
  // Loaded lazily so the Postgres-server path never pays for them.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const dataDir = resolve(config.MUELLE_DATA_DIR);
  const runDir = join(dataDir, 'run');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const socketPath = join(runDir, '.s.PGSQL.5432');
  removeLeftoversOfAnUncleanStop(dataDir, socketPath, logger);
  const db = await PGlite.create(join(dataDir, 'db'));
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 1 });
  await server.start();
  // PGlite runs one query at a time: a single connection keeps transactions from interleaving.
  const dataSource = new DataSource({
    ...dataSourceOptions('postgres://unused'),
    host: runDir,
    username: 'postgres',
    database: 'postgres',
    port: 5432,
    url: undefined,
    extra: { max: 1 },
  } as DataSourceOptions);
  await dataSource.initialize();
  logger.info({ path: join(dataDir, 'db') }, 'embedded database (PGlite) opened');
  return {
    dataSource,
    embedded: true,
    async close() {
      // Closing: each step runs even if the one before failed; a broken connection has nothing left to release.
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
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

async function initializeWithRetry(dataSource: DataSource, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await dataSource.initialize();
      return;
    } catch (error) {
      if (attempt >= 30) throw error;
      logger.warn({ err: error, attempt }, 'database not reachable yet, retrying');
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/**
 * Runs pending migrations. Against a shared server, replicas take a Postgres advisory lock first,
 * so exactly one migrates and the others find nothing left to do. The embedded database has one
 * process by construction (the data-dir lock), and a single connection, so it needs no lock.
 */
export async function migrate(database: Database, logger: Logger): Promise<string[]> {
  const { dataSource } = database;
  if (database.embedded) return report(await dataSource.runMigrations({ transaction: 'all' }), logger);
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    return report(await dataSource.runMigrations({ transaction: 'all' }), logger);
  } finally {
    // A broken connection drops its session lock by itself; release() below ends it.
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}

function report(applied: { name: string }[], logger: Logger): string[] {
  const names = applied.map((m) => m.name);
  if (names.length) logger.info({ migrations: names }, 'migrations applied');
  else logger.info('database schema up to date');
  return names;
}
