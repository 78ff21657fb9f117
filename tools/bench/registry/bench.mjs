#!/usr/bin/env node
// Registry benchmark: Muelle (all-in-one, filesystem driver) against CNCF Distribution
// (Debian's docker-registry) in the same run, with skopeo as the client.
//   npm run build && node tools/bench/registry/bench.mjs [--big-mib 160] [--rounds 9] [--small 50] [--memory-gib 2] [--embedded | --distributed | --both | --all] [--auth] [--skip-memory]
// Metadata runs on a fresh database of the local PostgreSQL server (postgres://postgres@127.0.0.1:5432,
// or MUELLE_BENCH_POSTGRES_URL); --embedded uses the all-in-one's PGlite instead; --distributed
// runs the registry and metadata as separate processes (each its own data folder) on NATS with
// PostgreSQL, as past one machine; --both measures the all-in-one on PostgreSQL and on PGlite,
// --all those two and the distributed one, one after the other, each against Distribution.
// --auth: both registries ask for credentials, as users run them: Muelle its token auth with the
// admin's login, Distribution htpasswd (bcrypt; needs apache2-utils). Without it both run open.
// Measures: push and pull of a five-layer image (~160 MB; median of --rounds fresh images, the
// registries taking turns), push of 50 small images, and the
// peak RSS of a STANDALONE registry process (dist/apps/registry, with a standalone metadata
// service over NATS at MUELLE_BENCH_NATS_URL, default nats://127.0.0.1:4222, in its own bus
// namespace) while one 2 GiB blob is streamed into it.
// MUELLE_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to the Muelle processes.
// Needs: skopeo, docker-registry (apt-get install -y skopeo docker-registry).
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const BIG_MIB = opt('big-mib', 160);
const SMALL = opt('small', 50);
const MEMORY_GIB = opt('memory-gib', 2);
const DISTRIBUTED = 'distributed: registry and metadata processes on NATS, PostgreSQL server';
const CONFIGURATIONS = args.includes('--all')
  ? ['PostgreSQL server', 'embedded PGlite', DISTRIBUTED]
  : args.includes('--both')
    ? ['PostgreSQL server', 'embedded PGlite']
    : [args.includes('--embedded') ? 'embedded PGlite' : args.includes('--distributed') ? DISTRIBUTED : 'PostgreSQL server'];
const AUTH = args.includes('--auth');
const PASSWORD = 'bench-password';
const SKIP_MEMORY = args.includes('--skip-memory');
const ROUNDS = opt('rounds', 9);
const NATS_URL = process.env.MUELLE_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const NODE_ARGS = (process.env.MUELLE_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const POSTGRES_URL = process.env.MUELLE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const work = mkdtempSync(join(tmpdir(), 'muelle-bench-'));

async function withAdmin(sql) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(url, status = 200) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).status === status) return;
    } catch {}
    await sleep(200);
  }
  throw new Error(`${url} never answered ${status}`);
}
const timed = async (fn) => {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
};
const skopeo = (...a) => run('skopeo', ['--insecure-policy', ...a], { maxBuffer: 1 << 26 });
/** skopeo's flags to push to (dest) or pull from (src) registry `r`, with its credentials when it asks. */
const dest = (r) => ['--dest-tls-verify=false', ...(r.creds ? ['--dest-creds', r.creds] : [])];
const src = (r) => ['--src-tls-verify=false', ...(r.creds ? ['--src-creds', r.creds] : [])];

/** A fresh PostgreSQL database (or none: the all-in-one's PGlite, when `embedded`). */
async function freshDatabase(embedded) {
  if (embedded) return { env: {}, drop: async () => {} };
  const name = `muelle_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return { env: { DATABASE_URL: url.toString() }, drop: () => withAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

const stopChild = (child) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM'))));

async function startMuelle(embedded) {
  const port = await freePort();
  const { env: database, drop: dropDatabase } = await freshDatabase(embedded);
  const dataDir = join(work, `muelle-${randomBytes(4).toString('hex')}`);
  const child = spawn(process.execPath, [...NODE_ARGS, join(root, 'dist/apps/all-in-one/src/main.js')], {
    env: {
      PATH: process.env.PATH,
      MUELLE_DATA_DIR: dataDir,
      MUELLE_ADMIN_PASSWORD: PASSWORD,
      MUELLE_REGISTRY_PORT: String(port),
      // Both registries ask for credentials, or neither does (same work per request).
      MUELLE_REGISTRY_AUTH: String(AUTH),
      MUELLE_LOG_LEVEL: 'warn',
      ...database,
      MUELLE_API_PORT: '0', MUELLE_METADATA_PORT: '0', MUELLE_BUILDER_PORT: '0', MUELLE_AGENT_PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    await stopChild(child);
    await dropDatabase();
  };
  await waitFor(`http://127.0.0.1:${port}/readyz`).catch(async (error) => {
    await stop();
    throw error;
  });
  return { name: 'muelle', host: `127.0.0.1:${port}`, pid: child.pid, stop, creds: AUTH ? `admin:${PASSWORD}` : undefined };
}

/**
 * The registry as it runs in production: its own process (dist/apps/registry), metadata in
 * another (dist/apps/metadata, PostgreSQL), both on NATS under a private bus namespace, each with
 * its own data folder. `auth`: token auth with the admin's login (the timed runs), else open.
 */
async function startStandaloneRegistry(auth) {
  const port = await freePort();
  const { env: database, drop: dropDatabase } = await freshDatabase(false);
  const common = {
    PATH: process.env.PATH,
    NATS_URL,
    // The shared benchmark NATS has no users; a deliberate, loopback-only choice.
    MUELLE_BUS_INSECURE: 'true',
    MUELLE_BUS_NAMESPACE: `bench-${randomBytes(4).toString('hex')}`,
    MUELLE_LOG_LEVEL: 'warn',
  };
  const instance = randomBytes(4).toString('hex');
  const spawnService = (app, env) =>
    spawn(process.execPath, [...NODE_ARGS, join(root, `dist/apps/${app}/src/main.js`)], {
      env: { ...common, MUELLE_DATA_DIR: join(work, `standalone-${instance}-${app}`), ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  const metadataPort = await freePort();
  const metadata = spawnService('metadata', { ...database, MUELLE_METADATA_PORT: String(metadataPort), MUELLE_ADMIN_PASSWORD: PASSWORD });
  const registry = spawnService('registry', { MUELLE_REGISTRY_PORT: String(port), MUELLE_REGISTRY_AUTH: String(auth) });
  const stop = async () => {
    await stopChild(registry);
    await stopChild(metadata);
    await dropDatabase();
  };
  // The registry is ready once it reaches NATS; its requests need metadata answering too.
  await Promise.all([waitFor(`http://127.0.0.1:${metadataPort}/readyz`), waitFor(`http://127.0.0.1:${port}/readyz`)]).catch(async (error) => {
    await stop();
    throw error;
  });
  // Named `muelle` as the all-in-one: the timed runs compare whichever Muelle runs with Distribution.
  return { name: 'muelle', host: `127.0.0.1:${port}`, pid: registry.pid, stop, creds: auth ? `admin:${PASSWORD}` : undefined };
}

/** Peak RSS of `pid` (sampled every 100 ms) while `fn` runs. */
async function peakRss(pid, fn) {
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
  try {
    const seconds = await timed(fn);
    return { beforeMiB: before, peakMiB: Math.max(peak, rssMiB(pid)), seconds };
  } finally {
    clearInterval(sampler);
  }
}

async function startDistribution() {
  const port = await freePort();
  const dir = join(work, `distribution-${port}`);
  const config = join(work, `distribution-${port}.yml`);
  let auth = '';
  if (AUTH) {
    const htpasswd = join(work, 'htpasswd');
    writeFileSync(htpasswd, (await run('htpasswd', ['-Bbn', 'bench', PASSWORD])).stdout);
    auth = `auth:\n  htpasswd: { realm: bench, path: ${htpasswd} }\n`;
  }
  writeFileSync(config, `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${dir} }\n  delete: { enabled: true }\nhttp: { addr: "127.0.0.1:${port}" }\n${auth}`);
  // Its access log (every 404 of a HEAD probe) is not interesting here.
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  await waitFor(`http://127.0.0.1:${port}/v2/`, AUTH ? 401 : 200);
  const stop = () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM'))));
  return { name: 'distribution', host: `127.0.0.1:${port}`, pid: child.pid, stop, creds: AUTH ? `bench:${PASSWORD}` : undefined };
}

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/** Streams `bytes` of generated data into one blob upload (POST, one streamed PATCH, PUT), never holding it in memory. */
async function pushGeneratedBlob(host, repo, bytes) {
  const post = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (post.status !== 202) throw new Error(`POST ${post.status} ${await post.text()}`);
  const location = new URL(post.headers.get('location'), `http://${host}`);
  const hash = createHash('sha256');
  const block = randomBytes(1 << 20);
  await new Promise((resolve, reject) => {
    const req = request(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`PATCH ${res.statusCode}`))));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        block[0] = sent & 0xff; // vary blocks a little
        hash.update(block);
        sent += block.length;
        if (!req.write(Buffer.from(block))) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  const digest = `sha256:${hash.digest('hex')}`;
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT' });
  if (put.status !== 201) throw new Error(`PUT ${put.status} ${await put.text()}`);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  console.log(`building images in ${work} …`);
  const make = (dir, ...a) => run(process.execPath, [join(root, 'tools/images/make-oci-layout.mjs'), dir, ...a]);
  // One big image per round, each with its own layers: a registry (or skopeo's blob cache) that
  // has seen a layer could mount it instead of receiving it.
  const bigImage = async (label) => {
    const dir = join(work, `big-${label}`);
    await make(dir, '--random-layers', '5', '--layer-mib', String(BIG_MIB / 5), '--seed', `big-${label}-${randomBytes(4).toString('hex')}`);
    return dir;
  };
  // A warm-up image per registry, not measured: Node compiles its hot paths on first use, Go
  // ships compiled, and neither should be timed on a cold cache or connection.
  const warmUp = await bigImage('warm-up');
  const bigs = [];
  for (let round = 0; round < ROUNDS; round++) bigs.push(await bigImage(round));
  const smalls = [];
  for (let i = 0; i < SMALL; i++) {
    const dir = join(work, `small-${i}`);
    await make(dir, '--random-layers', '2', '--layer-kib', '64', '--seed', `small-${i}-${randomBytes(4).toString('hex')}`);
    smalls.push(dir);
  }
  // Warm the page cache so neither registry pays for the first read of the layouts.
  for (const dir of [warmUp, ...bigs, ...smalls]) for (const f of readdirSync(join(dir, 'blobs/sha256'))) readFileSync(join(dir, 'blobs/sha256', f));

  const tables = [];
  let memory;
  const registries = [];
  try {
    for (const configuration of CONFIGURATIONS) {
      registries.push(await startDistribution());
      registries.push(configuration === DISTRIBUTED ? await startStandaloneRegistry(AUTH) : await startMuelle(configuration === 'embedded PGlite'));
      tables.push({ configuration, results: await measure(registries, { warmUp, bigs, smalls }) });
      for (const r of registries.splice(0)) await r.stop();
    }
    // Memory: peak RSS of a standalone registry process while a 2 GiB blob streams in.
    if (!SKIP_MEMORY) {
      const standalone = await startStandaloneRegistry(false);
      registries.push(standalone);
      memory = await peakRss(standalone.pid, () => pushGeneratedBlob(standalone.host, 'bench/huge', MEMORY_GIB * 1024 ** 3));
    }
  } finally {
    for (const r of registries) await r.stop();
    rmSync(work, { recursive: true, force: true });
  }

  for (const { configuration, results } of tables) {
    const m = results.muelle;
    const d = results.distribution;
    const row = (label, key, target) => `${label.padEnd(28)} ${m[key].toFixed(2).padStart(8)} ${d[key].toFixed(2).padStart(13)} ${(m[key] / d[key]).toFixed(2).padStart(7)}   (target ≤ ${target})`;
    console.log(`\n${configuration === DISTRIBUTED ? configuration : `all-in-one, metadata on ${configuration}`}; ${AUTH ? 'auth on (Muelle tokens, Distribution htpasswd bcrypt)' : 'auth off on both'}`);
    console.log(`                              muelle  distribution   ratio   (big: median of ${ROUNDS})`);
    console.log(row(`push ${BIG_MIB} MiB, 5 layers (s)`, 'bigPush', '1.0'));
    console.log(row(`pull ${BIG_MIB} MiB, 5 layers (s)`, 'bigPull', '1.0'));
    console.log(row(`push ${SMALL} small images (s)`, 'smallPush', '1.2'));
  }
  console.log(`\nload average at the end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (memory) {
    const { beforeMiB, peakMiB, seconds } = memory;
    console.log(`standalone registry process RSS while pushing a ${MEMORY_GIB} GiB blob: ${beforeMiB.toFixed(0)} MiB before, peak ${peakMiB.toFixed(0)} MiB (${seconds.toFixed(1)} s, ${((MEMORY_GIB * 1024) / seconds).toFixed(0)} MiB/s)`);
  }
}

/** Big pushes and pulls (rounds alternating between the registries) and the small pushes, against fresh registries. */
async function measure(registries, { warmUp, bigs, smalls }) {
  const results = {};
  const samples = {};
  for (const r of registries) samples[r.name] = { bigPush: [], bigPull: [] };
  for (const r of registries) {
    await skopeo('copy', ...dest(r), `oci:${warmUp}:latest`, `docker://${r.host}/bench/warm-up:1`);
    await skopeo('copy', ...src(r), `docker://${r.host}/bench/warm-up:1`, `oci:${join(work, `warm-${r.name}-${randomBytes(4).toString('hex')}`)}:latest`);
  }
  // Rounds alternate between the registries, so load changes on a shared machine hit both alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of round % 2 ? [...registries].reverse() : registries) {
      const s = samples[r.name];
      const ref = `docker://${r.host}/bench/big-${round}:1`;
      s.bigPush.push(await timed(() => skopeo('copy', ...dest(r), `oci:${bigs[round]}:latest`, ref)));
      const into = join(work, `pull-${r.name}-${round}`);
      s.bigPull.push(await timed(() => skopeo('copy', ...src(r), ref, `oci:${into}:latest`)));
      rmSync(into, { recursive: true, force: true });
    }
  }
  // Small images: each one goes to both registries, first to one, then the other, in turns.
  const smallPush = Object.fromEntries(registries.map((r) => [r.name, 0]));
  for (let i = 0; i < smalls.length; i++) {
    for (const r of i % 2 ? [...registries].reverse() : registries) {
      smallPush[r.name] += await timed(() => skopeo('copy', ...dest(r), `oci:${smalls[i]}:latest`, `docker://${r.host}/bench/small-${i}:1`));
    }
  }
  for (const r of registries) {
    const res = (results[r.name] = { bigPush: median(samples[r.name].bigPush), bigPull: median(samples[r.name].bigPull), smallPush: smallPush[r.name] });
    const list = (key) => samples[r.name][key].map((v) => v.toFixed(2)).join('/');
    console.log(`${r.name}: big push ${list('bigPush')} s, big pull ${list('bigPull')} s, ${SMALL} small pushes ${res.smallPush.toFixed(2)} s`);
  }
  return results;
}

main().catch((error) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
