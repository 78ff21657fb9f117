#!/usr/bin/env node
// List and placement at scale, without containers: a metadata service (dist/, in this process, on
// an in-process bus) gets 50 hosts and 5,000 then 20,000 container records written straight into
// its database (its own connection; no agent, no kernel), then times
//   - the first page of `GET /v1/containers?all=true` (metadata's list request, limit 100),
//   - the first page of the default list (running only),
//   - walking every page of the full list (limit 1000 a page),
//   - the placement snapshot (hostUsage: reservations, ports and services per host),
// on a fresh PostgreSQL database and on PGlite.
//   npm run build && node tools/bench/api/scale.mjs [--sizes 5000,20000] [--repeat 30] [--only pg|pglite]
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(root, 'package.json'));
const pg = require('pg');
const pino = require('pino');
const { DataSource } = require('typeorm');
const { BusClient, createBusClientProxy, InProcessBroker } = require(join(root, 'dist/libs/bus/src/index.js'));
const { listContainers, hostUsage, registerHost } = require(join(root, 'dist/libs/contracts/src/index.js'));
const { serviceInfo } = require(join(root, 'dist/libs/service-kit/src/index.js'));
const { metadataConfigShape } = require(join(root, 'dist/apps/metadata/src/config.js'));
const { startMetadata } = require(join(root, 'dist/apps/metadata/src/metadata.app.js'));
const { z } = require('zod');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const SIZES = option('sizes', '5000,20000').split(',').map(Number);
const REPEAT = Number(option('repeat', 30));
const ONLY = option('only', '');
const HOSTS = 50;
const PG_ADMIN = process.env.MUELLE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql) {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const timeMs = async (fn) => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};
async function sample(fn) {
  for (let i = 0; i < 3; i++) await fn(); // warm-up: query plans, JIT
  const times = [];
  for (let i = 0; i < REPEAT; i++) times.push(await timeMs(fn));
  return `p50 ${percentile(times, 50).toFixed(1).padStart(7)}  p99 ${percentile(times, 99).toFixed(1).padStart(7)}`;
}

/** Writes `count` container records (half running, half exited) over the hosts, 1,000 per statement. */
async function insertRecords(db, from, count) {
  for (let start = from; start < from + count; start += 1000) {
    const values = [];
    const params = [];
    for (let i = start; i < Math.min(from + count, start + 1000); i++) {
      const n = params.length;
      const spec = {
        image: 'busybox:latest',
        resources: { memoryBytes: 64 << 20, cpus: 0.25 },
        ports: i % 10 === 0 ? [{ containerPort: 80, hostPort: 20000 + (i % 40000), hostIp: '0.0.0.0', protocol: 'tcp' }] : [],
        labels: i % 7 === 0 ? { 'muelle.service': `svc-${i % 20}` } : {},
      };
      values.push(`($${n + 1}, $${n + 2}, NULL, $${n + 3}, 'busybox:latest', NULL, $${n + 4}::jsonb, '{}'::jsonb, $${n + 5}, NULL, false, 0, now() - ($${n + 6} || ' seconds')::interval, NULL, NULL, now())`);
      params.push(randomBytes(32).toString('hex'), `rec-${i}`, `host-${i % HOSTS}`, JSON.stringify(spec), i % 2 ? 'running' : 'exited', String(i));
    }
    await db.query(
      `INSERT INTO containers (id, name, team_id, host_id, image, image_digest, spec, labels, state, exit_code, oom_killed, restart_count, created_at, started_at, finished_at, state_changed_at) VALUES ${values.join(',')}`,
      params,
    );
  }
  await db.query('ANALYZE containers');
}

async function measure(configuration) {
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
  const config = z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: dataDir, MUELLE_ADMIN_PASSWORD: 'scale-password', ...database });
  const broker = new InProcessBroker();
  const running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: 'warn' }), serviceInfo('metadata'));
  const bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'scale'));
  try {
    for (let h = 0; h < HOSTS; h++) {
      await bus.request(registerHost, { id: `host-${h}`, address: `10.0.${h}.1`, capacity: { cpus: 64, memoryBytes: 256 * 2 ** 30, diskBytes: 2 ** 40 }, labels: {}, agentVersion: 'scale' });
    }
    const db = running.app.get(DataSource);
    let recorded = 0;
    for (const size of SIZES) {
      const inserting = await timeMs(() => insertRecords(db, recorded, size - recorded));
      recorded = size;
      console.log(`\n${configuration}, ${size} containers on ${HOSTS} hosts (records written in ${(inserting / 1000).toFixed(1)} s); ms over ${REPEAT} runs`);
      console.log(`  list, first page of all (100)      ${await sample(() => bus.request(listContainers, { all: true, limit: 100 }))}`);
      console.log(`  list, first page of running (100)  ${await sample(() => bus.request(listContainers, { limit: 100 }))}`);
      console.log(`  list, one host's page (100)        ${await sample(() => bus.request(listContainers, { all: true, limit: 100, filters: { hostId: 'host-7' } }))}`);
      console.log(`  placement snapshot (hostUsage)     ${await sample(() => bus.request(hostUsage, {}))}`);
      let pages = 0;
      const walk = await timeMs(async () => {
        let cursor;
        do {
          const page = await bus.request(listContainers, { all: true, limit: 1000, ...(cursor ? { cursor } : {}) });
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor && pages < 100);
      });
      console.log(`  every page of all (1000 a page)    ${walk.toFixed(0)} ms for ${pages} pages`);
    }
  } finally {
    await running.close();
    await drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const configurations = ['PostgreSQL server', 'embedded PGlite'].filter((c) => !ONLY || (ONLY === 'pg') === (c === 'PostgreSQL server'));
for (const configuration of configurations) await measure(configuration);
