import { DataSource, DataSourceOptions } from 'typeorm';
import type { Logger } from 'pino';
import { entities } from '../entities';
import { migrations } from './migrations';
import { EmbeddedDatabase, startEmbeddedDatabase } from './embedded';

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
 * served on a private unix socket so TypeORM's ordinary `pg` driver can talk to it. `embedded` is
 * the embedded database when the caller already started opening it (the all-in-one does, before
 * loading the services' modules); this function then owns it and closes it on failure.
 */
export async function openDatabase(
  config: { DATABASE_URL?: string; MUELLE_DATA_DIR: string },
  logger: Logger,
  embedded?: Promise<EmbeddedDatabase>,
): Promise<Database> {
  if (config.DATABASE_URL) {
    const dataSource = new DataSource(dataSourceOptions(config.DATABASE_URL));
    await initializeWithRetry(dataSource, logger);
    return { dataSource, embedded: false, close: async () => void (dataSource.isInitialized && (await dataSource.destroy())) };
  }
  const pglite = await (embedded ?? startEmbeddedDatabase(config.MUELLE_DATA_DIR, logger));
  // PGlite runs one query at a time: a single connection keeps transactions from interleaving.
  const dataSource = new DataSource({
    ...dataSourceOptions('postgres://unused'),
    host: pglite.runDir,
    username: 'postgres',
    database: 'postgres',
    port: 5432,
    url: undefined,
    extra: { max: 1 },
  } as DataSourceOptions);
  try {
    await dataSource.initialize();
  } catch (error) {
    await pglite.close();
    throw error;
  }
  logger.info({ path: pglite.path }, 'embedded database (PGlite) opened');
  return {
    dataSource,
    embedded: true,
    async close() {
      // Closing: each step runs even if the one before failed; a broken connection has nothing left to release.
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      await pglite.close();
    },
  };
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
