// Shared by the scale benchmarks (scale.mjs, reconcile.mjs): the platform's services from dist/ on
// one in-process bus, 50 registered hosts, and container records written straight into metadata's
// database (no agent, no kernel).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const require = createRequire(join(root, 'package.json'));
export const dist = (path) => require(join(root, 'dist', path));
const pg = require('pg');
const pino = require('pino');
const { DataSource } = require('typeorm');
const { z } = require('zod');
const { BusClient, createBusClientProxy, InProcessBroker } = dist('libs/bus/src/index.js');
const { registerHost } = dist('libs/contracts/src/index.js');
const { serviceInfo } = dist('libs/service-kit/src/index.js');
const { metadataConfigShape } = dist('apps/metadata/src/config.js');
const { startMetadata } = dist('apps/metadata/src/metadata.app.js');

export const HOSTS = 50;
export const ADMIN_PASSWORD = 'scale-password';
const PG_ADMIN = process.env.MUELLE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const CONFIGURATIONS = ['PostgreSQL server', 'embedded PGlite'];

export function option(name, fallback) {
  const args = process.argv.slice(2);
  return args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback;
}

async function admin(sql) {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
export const timeMs = async (fn) => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};
/** p50 and p99 of `repeat` runs after 3 warm-up runs (query plans, JIT). */
export async function sample(fn, repeat) {
  for (let i = 0; i < 3; i++) await fn();
  const times = [];
  for (let i = 0; i < repeat; i++) times.push(await timeMs(fn));
  return `p50 ${percentile(times, 50).toFixed(1).padStart(7)}  p99 ${percentile(times, 99).toFixed(1).padStart(7)}`;
}

/**
 * Writes `count` container records over the hosts, 1,000 per statement: odd ones running, even ones
 * exited; one in three with `--restart always`; some with ports and service labels. `extra(i)` may
 * return `{ labels, hostId }` to make a record a service task.
 */
export async function insertRecords(db, from, count, extra = () => ({})) {
  for (let start = from; start < from + count; start += 1000) {
    const values = [];
    const params = [];
    for (let i = start; i < Math.min(from + count, start + 1000); i++) {
      const n = params.length;
      const more = extra(i);
      const labels = more.labels ?? (i % 7 === 0 ? { 'muelle.service': `svc-${i % 20}` } : {});
      const spec = {
        image: 'busybox:latest',
        resources: { memoryBytes: 64 << 20, cpus: 0.25 },
        ports: !more.labels && i % 10 === 0 ? [{ containerPort: 80, hostPort: 20000 + (i % 40000), hostIp: '0.0.0.0', protocol: 'tcp' }] : [],
        restartPolicy: { name: i % 3 === 0 ? 'always' : 'no', maxRetries: 0 },
        labels,
      };
      values.push(
        `($${n + 1}, $${n + 2}, NULL, $${n + 3}, 'busybox:latest', NULL, $${n + 4}::jsonb, $${n + 5}::jsonb, $${n + 6}, NULL, false, 0, now() - ($${n + 7} || ' seconds')::interval, now() - interval '1 hour', NULL, now())`,
      );
      params.push(randomBytes(32).toString('hex'), `rec-${i}`, more.hostId ?? `host-${i % HOSTS}`, JSON.stringify(spec), JSON.stringify(labels), more.state ?? (i % 2 ? 'running' : 'exited'), String(i));
    }
    await db.query(
      `INSERT INTO containers (id, name, team_id, host_id, image, image_digest, spec, labels, state, exit_code, oom_killed, restart_count, created_at, started_at, finished_at, state_changed_at) VALUES ${values.join(',')}`,
      params,
    );
  }
  await db.query('ANALYZE containers');
}

/**
 * Metadata from dist/ on a fresh PostgreSQL database or PGlite, on a new in-process bus, with
 * HOSTS hosts registered. `metadataEnv` adds settings. Returns the broker, a bus client, metadata's
 * DataSource and `close()`.
 */
export async function startPlatform(configuration, metadataEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-scale-'));
  let database;
  let drop = async () => {};
  if (configuration === 'PostgreSQL server') {
    const name = `muelle_scale_${randomBytes(4).toString('hex')}`;
    await admin(`CREATE DATABASE ${name}`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    database = { DATABASE_URL: url.toString() };
    drop = () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const config = z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: dataDir, MUELLE_ADMIN_PASSWORD: ADMIN_PASSWORD, ...database, ...metadataEnv });
  const broker = new InProcessBroker();
  const transport = { kind: 'in-process', broker };
  const logger = pino({ level: 'warn' });
  let metadata;
  try {
    metadata = await startMetadata(config, transport, logger, serviceInfo('metadata'));
  } catch (error) {
    await drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const bus = new BusClient(createBusClientProxy(transport, 'scale'));
  const close = async () => {
    await metadata.close();
    await drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    for (let h = 0; h < HOSTS; h++) {
      await bus.request(registerHost, { id: `host-${h}`, address: `10.0.${h}.1`, capacity: { cpus: 64, memoryBytes: 256 * 2 ** 30, diskBytes: 2 ** 40 }, labels: {}, agentVersion: 'scale' });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { broker, transport, logger, bus, db: metadata.app.get(DataSource), close };
}
