#!/usr/bin/env node
// CLI start-up benchmark: `muelle run --rm --network none busybox true` and `muelle ps` against a
// fresh all-in-one as `npm start` runs it (auth on, embedded PGlite), beside the stock docker CLI
// against Muelle's Docker API and, with --start-dockerd, `docker run --rm` on a throwaway dockerd.
// Needs root, `npm run build`, busybox-static, skopeo (docker.io for the docker columns).
//   node tools/bench/cli/bench.mjs [--runs 8] [--start-dockerd] [--baseline-cli FILE]
// --baseline-cli: another build of the CLI bundle (e.g. main's: `node tools/scripts/bundle-cli.mjs
// --out dist/cli-baseline` in a checkout of main), timed beside this one for a before/after.
// Prints medians and p90 of wall time per command (the commands take turns, so each sees the same
// load), the client's mean CPU time, and each one's ratio to `docker run --rm`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 8;
const startDockerd = process.argv.includes('--start-dockerd');
const baselineCli = process.argv.includes('--baseline-cli') ? process.argv[process.argv.indexOf('--baseline-cli') + 1] : undefined;
const work = mkdtempSync(join(tmpdir(), 'bench-cli-'));
const password = 'bench-password';
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });

async function waitReady(url, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/**
 * Times every case `runs` times (after one warm-up each), round-robin: on a shared machine the load
 * changes within seconds, and taking turns lets each command see the same load, so the ratios hold.
 * Returns wall-time figures in ms.
 */
const kase = (label, command, args, env) => ({ label, command, args, env });

function timeAll(cases) {
  const cpu = cases.map(() => 0);
  const once = ({ label, command, args, env }, n) => {
    const [t0, c0] = [process.hrtime.bigint(), childrenCpuMs()];
    const result = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${label}: ${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    if (n !== undefined) cpu[n] += childrenCpuMs() - c0;
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (const c of cases) once(c);
  const times = cases.map(() => []);
  for (let i = 0; i < runs; i++) cases.forEach((c, n) => times[n].push(once(c, n)));
  return cases.map(({ label }, n) => {
    const sorted = times[n].sort((a, b) => a - b);
    return { label, median: sorted[Math.floor(sorted.length / 2)], p90: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))], cpu: cpu[n] / runs };
  });
}

/**
 * CPU time (user + system, ms) of this process's waited-for children, from /proc/self/stat: the
 * client's own cost, which load from other processes changes far less than wall time (docker's
 * client does its work in dockerd, so its figure is the CLI alone). Clock ticks of 10 ms: a mean.
 */
function childrenCpuMs() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

const [apiPort, registryPort] = [await freePort(), await freePort()];
const platform = spawn(process.execPath, [join(repo, 'dist/apps/all-in-one/src/main.js')], {
  env: {
    PATH: process.env.PATH,
    MUELLE_DATA_DIR: join(work, 'data'),
    MUELLE_ADMIN_PASSWORD: password,
    MUELLE_API_PORT: String(apiPort),
    MUELLE_REGISTRY_PORT: String(registryPort),
    MUELLE_METADATA_PORT: '0', MUELLE_BUILDER_PORT: '0', MUELLE_AGENT_PORT: '0',
    MUELLE_BRIDGE_NAME: 'mlbench0', MUELLE_BRIDGE_SUBNET: '10.89.250.0/24',
    MUELLE_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const cases = [];
let results = [];
let dockerd;
try {
  await waitReady(`http://127.0.0.1:${apiPort}/readyz`);
  // The CLI keeps its login under HOME; the bench gets a HOME of its own.
  const cliEnv = { HOME: join(work, 'home'), MUELLE_TLS_CA: '' };
  mkdirSync(cliEnv.HOME);
  const muelle = (...args) => execFileSync(process.execPath, [join(repo, 'tools/bin/muelle.js'), ...args], { env: { ...process.env, ...cliEnv }, encoding: 'utf8', input: password });
  muelle('login', '-u', 'admin', '--password-stdin', `http://127.0.0.1:${apiPort}`);
  const layout = join(work, 'busybox-oci');
  execFileSync(process.execPath, [join(repo, 'tools/images/make-oci-layout.mjs'), layout, '--busybox']);
  for (const name of ['busybox', 'library/busybox']) {
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `admin:${password}`, `oci:${layout}:latest`, `docker://127.0.0.1:${registryPort}/${name}:latest`]);
  }
  cases.push(kase('muelle run --rm --network none busybox true', process.execPath, [join(repo, 'tools/bin/muelle.js'), 'run', '--rm', '--network', 'none', 'busybox', 'true'], cliEnv));
  cases.push(kase('muelle ps', process.execPath, [join(repo, 'tools/bin/muelle.js'), 'ps'], cliEnv));
  if (baselineCli) {
    cases.push(kase('muelle run --rm … (baseline CLI)', process.execPath, [baselineCli, 'run', '--rm', '--network', 'none', 'busybox', 'true'], cliEnv));
    cases.push(kase('muelle ps (baseline CLI)', process.execPath, [baselineCli, 'ps'], cliEnv));
  }

  if (spawnSync('docker', ['--version'], { stdio: 'ignore' }).status === 0) {
    // The stock docker CLI against Muelle's Docker API, with the CLI's token as a bearer header.
    const token = JSON.parse(muelle('token', 'create', 'bench', '--format', 'json')).token;
    const dockerConfig = join(work, 'docker-config');
    mkdirSync(dockerConfig);
    writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${token}` } }));
    const viaMuelle = { DOCKER_HOST: `tcp://127.0.0.1:${apiPort}`, DOCKER_CONFIG: dockerConfig };
    cases.push(kase('docker run --rm (Muelle Docker API)', 'docker', ['run', '--rm', '--network', 'none', 'busybox', 'true'], viaMuelle));
    cases.push(kase('docker ps (Muelle Docker API)', 'docker', ['ps'], viaMuelle));
  }
  if (startDockerd) {
    const root = join(work, 'dockerd');
    const socket = join(root, 'docker.sock');
    mkdirSync(root);
    dockerd = spawn('dockerd', ['--iptables=false', '--bridge=none', '-H', `unix://${socket}`, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '-p', join(root, 'pid')], { stdio: 'ignore' });
    const local = { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(root, 'config') };
    for (let i = 0; i < 60 && spawnSync('docker', ['info'], { env: { ...process.env, ...local }, stdio: 'ignore' }).status !== 0; i++) await sleep(500);
    const rootfs = join(work, 'rootfs');
    execFileSync('sh', [join(repo, 'tools/images/make-busybox-rootfs.sh'), rootfs]);
    execFileSync('tar', ['-C', rootfs, '-cf', join(work, 'rootfs.tar'), '.']);
    execFileSync('docker', ['import', join(work, 'rootfs.tar'), 'busybox:latest'], { env: { ...process.env, ...local }, stdio: ['ignore', 'ignore', 'inherit'] });
    cases.push(kase('docker run --rm (dockerd)', 'docker', ['run', '--rm', '--network', 'none', 'busybox', 'true'], local));
    cases.push(kase('docker ps (dockerd)', 'docker', ['ps'], local));
  }
  results = timeAll(cases);
} finally {
  platform.kill('SIGTERM');
  await new Promise((r) => platform.once('exit', r));
  if (dockerd) {
    dockerd.kill('SIGTERM');
    await new Promise((r) => dockerd.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
}

const reference = results.find((r) => r.label === 'docker run --rm (dockerd)');
console.log(`\nCLI start-up, ${runs} runs each (wall ms)`);
console.log(['command'.padEnd(44), 'median'.padStart(8), 'p90'.padStart(8), 'client cpu'.padStart(12), 'vs docker run (dockerd)'.padStart(25)].join(''));
for (const r of results) {
  const ratio = reference ? `${(r.median / reference.median).toFixed(2)}×` : '—';
  console.log([r.label.padEnd(44), r.median.toFixed(0).padStart(8), r.p90.toFixed(0).padStart(8), r.cpu.toFixed(0).padStart(12), ratio.padStart(25)].join(''));
}
