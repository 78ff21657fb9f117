#!/usr/bin/env node
// Control-plane load test. Needs `npm run build`, PostgreSQL, the nats-server binary, root.
//   node tools/bench/api/bench.mjs [--containers 200] [--records 5000] [--requests 1000]
// 1. Starts metadata, registry, api and three agents (three hosts) as separate processes on a
//    fresh database; pushes busybox into the platform registry.
// 2. Sends N concurrent create+start requests; checks every container exists exactly once,
//    running, and how they spread over the hosts.
// 3. Records M more containers straight into the database, then measures GET /v1/containers
//    latency (p50/p95/p99) sequentially and with 10 concurrent clients.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createReadStream, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(root, 'package.json'));
const pg = require('pg');
const { createRegistryClient } = require(join(root, 'dist/libs/registry-client/src/index.js'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const CONTAINERS = arg('containers', 200);
const RECORDS = arg('records', 5000);
const REQUESTS = arg('requests', 1000);
const PG_ADMIN = process.env.MUELLE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'bench-password';
let AUTH = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` };

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const summary = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: +percentile(sorted, 50).toFixed(1),
    p95: +percentile(sorted, 95).toFixed(1),
    p99: +percentile(sorted, 99).toFixed(1),
    max: +sorted[sorted.length - 1].toFixed(1),
  };
};

const processes = [];
function startService(name, env) {
  const child = spawn(process.execPath, [join(root, `dist/apps/${name}/src/main.js`)], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, MUELLE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (c) => (errors = (errors + c).slice(-4000)));
  processes.push({ name, child, errors: () => errors });
  return child;
}

async function waitFor(check, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
const ready = (port) => waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, `:${port}/readyz`);

async function main() {
  const dbName = `muelle_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = PG_ADMIN.replace(/\/[^/]*$/, `/${dbName}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-bench-'));
  // A private NATS, so nobody else's services on a shared server answer our requests.
  const natsPort = await freePort();
  const nats = spawn(process.env.MUELLE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], { stdio: 'ignore' });
  processes.push({ name: 'nats', child: nats, errors: () => '' });
  // A loopback-only NATS without users: the open bus is deliberate here.
  const common = { NATS_URL: `nats://127.0.0.1:${natsPort}`, MUELLE_BUS_INSECURE: 'true', DATABASE_URL: dbUrl, MUELLE_ADMIN_PASSWORD: PASSWORD };
  try {
    const ports = { metadata: await freePort(), registry: await freePort(), api: await freePort() };
    startService('metadata', { ...common, MUELLE_DATA_DIR: join(dataDir, 'metadata'), MUELLE_METADATA_PORT: String(ports.metadata) });
    await ready(ports.metadata);
    const registry = `127.0.0.1:${ports.registry}`;
    startService('registry', { ...common, MUELLE_DATA_DIR: join(dataDir, 'registry'), MUELLE_REGISTRY_PORT: String(ports.registry) });
    startService('api', { ...common, MUELLE_API_PORT: String(ports.api), MUELLE_REGISTRY_ADDRESS: registry });
    await ready(ports.registry);
    await ready(ports.api);
    const api = `http://127.0.0.1:${ports.api}`;
    const hosts = ['bench-a', 'bench-b', 'bench-c'];
    for (const [i, host] of hosts.entries()) {
      startService('agent', {
        ...common,
        MUELLE_DATA_DIR: join(dataDir, host),
        MUELLE_HOST_ID: host,
        MUELLE_AGENT_PORT: String(await freePort()),
        MUELLE_REGISTRY_ADDRESS: registry,
        MUELLE_BRIDGE_NAME: `mbench${i}`,
        MUELLE_BRIDGE_SUBNET: `10.233.${i}.0/24`,
      });
    }
    await waitFor(async () => {
      const body = await (await fetch(`${api}/v1/hosts`, { headers: AUTH })).json();
      return body.items.filter((h) => h.state === 'ready').length === hosts.length;
    }, 'three ready hosts');

    // Clients use API tokens (what `muelle login` stores), not a password per request.
    const token = await (await fetch(`${api}/v1/auth/tokens`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{"name":"bench"}' })).json();
    AUTH = { authorization: `Bearer ${token.token}` };

    // busybox into the platform registry
    const layout = mkdtempSync(join(tmpdir(), 'bench-layout-'));
    const made = spawnSync(process.execPath, [join(root, 'tools/images/make-oci-layout.mjs'), layout, '--busybox', '--tag', '1'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(made.stderr);
    const descriptor = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0];
    const blob = (d) => join(layout, 'blobs', 'sha256', d.slice(7));
    const manifestBytes = readFileSync(blob(descriptor.digest));
    const manifest = JSON.parse(manifestBytes.toString('utf8'));
    const client = createRegistryClient({ baseUrl: `http://${registry}`, credentials: { username: 'admin', password: PASSWORD } });
    for (const b of [manifest.config, ...manifest.layers]) await client.pushBlob('bench/busybox', b.digest, statSync(blob(b.digest)).size, () => createReadStream(blob(b.digest)));
    await client.putManifest('bench/busybox', '1', manifestBytes, descriptor.mediaType ?? manifest.mediaType);
    // Every host caches the image first: the benchmark measures scheduling, not the first pull.
    const prefetch = await fetch(`${api}/v1/images/pull`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'bench/busybox:1', hosts: ['*'] }),
    });
    if (!prefetch.ok) throw new Error(`prefetch: ${await prefetch.text()}`);

    // ---- 1. concurrent create+start
    console.log(`\n== ${CONTAINERS} concurrent create+start over ${hosts.length} hosts`);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: CONTAINERS }, async (_, i) => {
        const t0 = performance.now();
        const response = await fetch(`${api}/v1/containers`, {
          method: 'POST',
          headers: { ...AUTH, 'content-type': 'application/json' },
          body: JSON.stringify({ image: 'bench/busybox:1', name: `bench-${i}`, command: ['sleep', '3600'], network: 'none', start: true }),
        });
        const body = await response.json();
        return { status: response.status, ms: performance.now() - t0, body };
      }),
    );
    const wall = performance.now() - started;
    const failed = results.filter((r) => r.status !== 201);
    console.log(`wall ${(wall / 1000).toFixed(2)} s, ${(CONTAINERS / (wall / 1000)).toFixed(1)} containers/s, latency ms`, summary(results.map((r) => r.ms)));
    if (failed.length) console.log(`${failed.length} failed, e.g.`, JSON.stringify(failed[0].body));
    await sleep(1500); // let the last state events land
    const listed = [];
    let cursor;
    do {
      const response = await fetch(`${api}/v1/containers?all=true&limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers: AUTH });
      const page = await response.json();
      if (!response.ok) throw new Error(`list: ${JSON.stringify(page)}`);
      listed.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    const bench = listed.filter((c) => c.name.startsWith('bench-'));
    const names = new Set(bench.map((c) => c.name));
    const ids = new Set(bench.map((c) => c.id));
    const perHost = Object.fromEntries(hosts.map((h) => [h, bench.filter((c) => c.hostId === h).length]));
    const running = bench.filter((c) => c.state === 'running').length;
    const createdIds = new Set(results.filter((r) => r.status === 201).map((r) => r.body.id));
    const lost = [...createdIds].filter((id) => !ids.has(id)).length;
    console.log({ recorded: bench.length, uniqueNames: names.size, uniqueIds: ids.size, running, lost, duplicated: bench.length - ids.size, perHost });
    const exactlyOnce = bench.length === CONTAINERS && names.size === CONTAINERS && ids.size === CONTAINERS && lost === 0 && failed.length === 0;
    console.log(exactlyOnce ? 'OK: every container exists exactly once' : 'FAIL: lost, duplicated or failed containers');

    // ---- 2. list latency with many records
    console.log(`\n== GET /v1/containers with ${RECORDS} more containers recorded`);
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    const spec = {
      image: `${registry}/bench/busybox:1`,
      env: [],
      tty: false,
      openStdin: false,
      ports: [],
      volumes: [],
      network: 'none',
      resources: {},
      restartPolicy: { name: 'no', maxRetries: 0 },
      labels: {},
      placement: { constraints: {} },
      autoRemove: false,
    };
    for (let offset = 0; offset < RECORDS; offset += 1000) {
      const values = [];
      const params = [];
      for (let i = offset; i < Math.min(RECORDS, offset + 1000); i++) {
        const n = params.length;
        values.push(
          `($${n + 1}, $${n + 2}, NULL, $${n + 3}, $${n + 4}, NULL, $${n + 5}, '{}'::jsonb, $${n + 6}, NULL, false, 0, now() - ($${n + 7} || ' seconds')::interval, NULL, NULL, now())`,
        );
        params.push(randomBytes(32).toString('hex'), `rec-${i}`, hosts[i % 3], spec.image, JSON.stringify(spec), i % 2 ? 'running' : 'exited', String(i));
      }
      await db.query(
        `INSERT INTO containers (id, name, team_id, host_id, image, image_digest, spec, labels, state, exit_code, oom_killed, restart_count, created_at, started_at, finished_at, state_changed_at) VALUES ${values.join(',')}`,
        params,
      );
    }
    await db.query('ANALYZE containers');
    await db.end();
    const timeList = async (path) => {
      const t0 = performance.now();
      const response = await fetch(`${api}${path}`, { headers: AUTH });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`${path}: ${response.status}`);
      return performance.now() - t0;
    };
    for (const path of ['/v1/containers?all=true', '/v1/containers', '/v1/containers?all=true&host=bench-b&limit=50']) {
      for (let i = 0; i < 20; i++) await timeList(path); // warm-up (auth cache, query plans)
      const sequential = [];
      for (let i = 0; i < REQUESTS; i++) sequential.push(await timeList(path));
      const concurrent = [];
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          for (let i = 0; i < REQUESTS / 10; i++) concurrent.push(await timeList(path));
        }),
      );
      console.log(`${path}\n  sequential ms`, summary(sequential), `\n  10 concurrent ms`, summary(concurrent));
    }
    return exactlyOnce ? 0 : 1;
  } finally {
    for (const p of processes.reverse()) p.child.kill('SIGTERM');
    await sleep(2000);
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    for (const p of processes) if (p.errors()) console.error(`--- ${p.name}\n${p.errors()}`);
    process.exit(1);
  },
);
