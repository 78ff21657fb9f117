#!/usr/bin/env node
// Registry benchmark: Muelle (all-in-one, filesystem driver) against CNCF Distribution
// (Debian's docker-registry) in the same run, with skopeo as the client.
//   npm run build && node tools/bench/registry/bench.mjs [--big-mib 160] [--small 50] [--memory-gib 2] [--embedded]
// Metadata runs on a fresh database of the local PostgreSQL server (postgres://postgres@127.0.0.1:5432,
// or MUELLE_BENCH_POSTGRES_URL); --embedded uses the all-in-one's PGlite instead.
// Measures: push and pull of a five-layer image (~160 MB), push of 50 small images, and the
// registry process's peak RSS while one 2 GiB blob is streamed into Muelle.
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
const EMBEDDED = args.includes('--embedded');
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

async function startMuelle() {
  const port = await freePort();
  let database = {};
  let dropDatabase = async () => {};
  if (!EMBEDDED) {
    const name = `muelle_bench_${randomBytes(4).toString('hex')}`;
    await withAdmin(`CREATE DATABASE ${name}`);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${name}`;
    database = { DATABASE_URL: url.toString() };
    dropDatabase = () => withAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const dataDir = join(work, 'muelle');
  const child = spawn(process.execPath, [join(root, 'dist/apps/all-in-one/src/main.js')], {
    env: {
      PATH: process.env.PATH,
      MUELLE_DATA_DIR: dataDir,
      MUELLE_ADMIN_PASSWORD: 'bench-password',
      MUELLE_REGISTRY_PORT: String(port),
      // Distribution runs without auth here, so Muelle does too (same work per request).
      MUELLE_REGISTRY_AUTH: 'false',
      MUELLE_LOG_LEVEL: 'warn',
      ...database,
      MUELLE_API_PORT: '0', MUELLE_METADATA_PORT: '0', MUELLE_BUILDER_PORT: '0', MUELLE_AGENT_PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    await new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM'))));
    await dropDatabase();
  };
  await waitFor(`http://127.0.0.1:${port}/readyz`).catch(async (error) => {
    await stop();
    throw error;
  });
  return { name: 'muelle', host: `127.0.0.1:${port}`, pid: child.pid, stop };
}

async function startDistribution() {
  const port = await freePort();
  const dir = join(work, 'distribution');
  const config = join(work, 'distribution.yml');
  writeFileSync(config, `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${dir} }\n  delete: { enabled: true }\nhttp: { addr: "127.0.0.1:${port}" }\n`);
  // Its access log (every 404 of a HEAD probe) is not interesting here.
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  await waitFor(`http://127.0.0.1:${port}/v2/`);
  return { name: 'distribution', host: `127.0.0.1:${port}`, pid: child.pid, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

/** Streams `bytes` of generated data into one blob upload (POST, one streamed PATCH, PUT), never holding it in memory. */
async function pushGeneratedBlob(host, repo, bytes) {
  const post = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
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

async function main() {
  console.log(`building images in ${work} …`);
  const make = (dir, ...a) => run(process.execPath, [join(root, 'tools/images/make-oci-layout.mjs'), dir, ...a]);
  const big = join(work, 'big');
  await make(big, '--random-layers', '5', '--layer-mib', String(BIG_MIB / 5), '--seed', 'big');
  const smalls = [];
  for (let i = 0; i < SMALL; i++) {
    const dir = join(work, `small-${i}`);
    await make(dir, '--random-layers', '2', '--layer-kib', '64', '--seed', `small-${i}`);
    smalls.push(dir);
  }
  // Warm the page cache so neither registry pays for the first read of the layouts.
  for (const dir of [big, ...smalls]) for (const f of readdirSync(join(dir, 'blobs/sha256'))) readFileSync(join(dir, 'blobs/sha256', f));

  const results = {};
  const registries = [];
  try {
    registries.push(await startDistribution());
    registries.push(await startMuelle());
    for (const r of registries) {
      const res = (results[r.name] = {});
      res.bigPush = await timed(() => skopeo('copy', '--dest-tls-verify=false', `oci:${big}:latest`, `docker://${r.host}/bench/big:1`));
      res.bigPull = await timed(() => skopeo('copy', '--src-tls-verify=false', `docker://${r.host}/bench/big:1`, `oci:${join(work, `pull-${r.name}`)}:latest`));
      res.smallPush = await timed(async () => {
        for (let i = 0; i < smalls.length; i++) await skopeo('copy', '--dest-tls-verify=false', `oci:${smalls[i]}:latest`, `docker://${r.host}/bench/small-${i}:1`);
      });
      console.log(`${r.name}: big push ${res.bigPush.toFixed(2)} s, big pull ${res.bigPull.toFixed(2)} s, ${SMALL} small pushes ${res.smallPush.toFixed(2)} s`);
    }
    // Memory: peak RSS of the Muelle process (all five services in one process) while a 2 GiB blob streams in.
    const muelle = registries[1];
    const before = rssMiB(muelle.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(muelle.pid))), 100);
    const seconds = await timed(() => pushGeneratedBlob(muelle.host, 'bench/huge', MEMORY_GIB * 1024 ** 3));
    clearInterval(sampler);
    results.memory = { beforeMiB: before, peakMiB: peak, seconds };
  } finally {
    for (const r of registries) await r.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const m = results.muelle;
  const d = results.distribution;
  const row = (label, key, target) => `${label.padEnd(28)} ${m[key].toFixed(2).padStart(8)} ${d[key].toFixed(2).padStart(13)} ${(m[key] / d[key]).toFixed(2).padStart(7)}   (target ≤ ${target})`;
  console.log('\n                              muelle  distribution   ratio');
  console.log(row(`push ${BIG_MIB} MiB, 5 layers (s)`, 'bigPush', '1.0'));
  console.log(row(`pull ${BIG_MIB} MiB, 5 layers (s)`, 'bigPull', '1.0'));
  console.log(row(`push ${SMALL} small images (s)`, 'smallPush', '1.2'));
  console.log(`\nmetadata: ${EMBEDDED ? 'embedded PGlite' : 'PostgreSQL server'}; load average at the end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`muelle (all-in-one process) RSS while pushing a ${MEMORY_GIB} GiB blob: ${results.memory.beforeMiB.toFixed(0)} MiB before, peak ${results.memory.peakMiB.toFixed(0)} MiB (${results.memory.seconds.toFixed(1)} s, ${((MEMORY_GIB * 1024) / results.memory.seconds).toFixed(0)} MiB/s)`);
}

main().catch((error) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
