#!/usr/bin/env node
// Agent vs runc (and docker, when an engine answers) on the same busybox root filesystem.
// Needs root, `npm run build`, NATS on :4222, apt-get install runc docker-registry skopeo busybox-static
// (docker.io for the docker column).
//   node tools/bench/runtime/run-bench.mjs [--runs 100] [--start-dockerd]
// Agent-side start = start request received by the agent -> entrypoint exec'd, as the agent logs it
// ("container started", startMs); the bus round trip is reported separately.
// --start-dockerd starts a throwaway dockerd (own data root, no iptables, no bridge) and stops it at the end.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, sleep } from '../wait.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(repo, 'dist', 'package.json'));
const { BusClient, createBusClientProxy } = require(join(repo, 'dist/node_modules/@muelle/bus'));
const { agentContracts } = require(join(repo, 'dist/node_modules/@muelle/contracts'));
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 100;
const startDockerd = process.argv.includes('--start-dockerd');
const id = () => randomBytes(32).toString('hex');
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)].toFixed(1), p90: s[Math.floor(s.length * 0.9)].toFixed(1), mean: (s.reduce((a, b) => a + b, 0) / s.length).toFixed(1) };
};

const freePort = () => 20000 + Math.floor(Math.random() * 20000);
// A throwaway Distribution registry (Debian docker-registry) to pull from.
const regDir = mkdtempSync(join(tmpdir(), 'bench-registry-'));
const regPort = freePort();
writeFileSync(join(regDir, 'config.yml'), `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${regDir}/data }\nhttp:\n  addr: 127.0.0.1:${regPort}\n`);
const regProc = spawn('/usr/bin/docker-registry', ['serve', join(regDir, 'config.yml')], { stdio: 'ignore' });
const registry = { url: `http://127.0.0.1:${regPort}` };
await eventually(async () => {
  if ((await fetch(`${registry.url}/v2/`)).status !== 200) throw new Error('registry not up');
});
const layout = mkdtempSync(join(tmpdir(), 'bench-layout-'));
execFileSync('node', [join(repo, 'tools/images/make-oci-layout.mjs'), layout, '--busybox']);
const host = new URL(registry.url).host;
execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${host}/busybox:latest`]);
const dataDir = mkdtempSync(join(tmpdir(), 'bench-agent-'));
const hostId = `bench-${randomBytes(3).toString('hex')}`;
const agent = spawn(process.execPath, [join(repo, 'dist/apps/agent/src/main.js')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env,
  NATS_URL, MUELLE_BUS_INSECURE: 'true', MUELLE_AGENT_PORT: String(freePort()), MUELLE_DATA_DIR: dataDir, MUELLE_HOST_ID: hostId,
  MUELLE_LOG_LEVEL: 'info', MUELLE_REGISTRY_ADDRESS: host, MUELLE_BRIDGE_NAME: 'muelle-bench0', MUELLE_BRIDGE_SUBNET: '10.89.79.0/24',
} });
// The agent's own measurement of each start (JSON log lines).
const agentSideStartMs = new Map();
let pendingLog = '';
agent.stdout.on('data', (chunk) => {
  const lines = (pendingLog + chunk.toString()).split('\n');
  pendingLog = lines.pop();
  for (const line of lines) {
    try {
      const entry = JSON.parse(line);
      if (entry.msg === 'container started') agentSideStartMs.set(entry.id, entry.startMs);
      else if (entry.level >= 40) process.stderr.write(line + '\n');
    } catch {
      process.stderr.write(line + '\n');
    }
  }
});
const bus = new BusClient(createBusClientProxy({ kind: 'nats', url: NATS_URL }, 'api'));
await bus.connect();
const c = agentContracts(hostId);
await eventually(() => bus.request(c.list, {}, { timeoutMs: 1000 }));
await bus.request(c.pullImage, { reference: 'busybox:latest' });

async function agentRuns(network) {
  const overBusMs = [];
  const ids = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) {
    const created = await bus.request(c.create, { id: id(), name: `b${i}-${network}`, spec: { image: 'busybox:latest', command: ['true'], network } });
    ids.push(created.id);
    const s0 = process.hrtime.bigint();
    await bus.request(c.start, { id: created.id });
    overBusMs.push(ms(s0));
    await bus.request(c.wait, { id: created.id }, { timeoutMs: 30000 });
    await bus.request(c.remove, { id: created.id });
  }
  const totalMs = ms(t0);
  await sleep(200); // the last log lines
  const agentSide = ids.map((x) => agentSideStartMs.get(x)).filter((x) => typeof x === 'number');
  if (agentSide.length !== runs) throw new Error(`agent logged ${agentSide.length} of ${runs} starts (needs MUELLE_LOG_LEVEL=info)`);
  return { totalMs, startAgentSide: stats(agentSide), startOverBus: stats(overBusMs) };
}

function runcRuns() {
  const bundle = mkdtempSync(join(tmpdir(), 'bench-runc-'));
  execFileSync(join(repo, 'tools/images/make-busybox-rootfs.sh'), [join(bundle, 'rootfs')]);
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.args = ['true'];
  spec.process.terminal = false;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  // runc splits what our start does in two: `create` builds the namespaces, mounts and cgroup and
  // parks the process before exec; `start` lets it exec. Both are reported.
  const createMs = [];
  const startOnlyMs = [];
  const createAndStartMs = [];
  for (let i = 0; i < runs; i++) {
    const name = `bench-${i}-${process.pid}`;
    const s0 = process.hrtime.bigint();
    spawnSync('runc', ['create', '-b', bundle, name], { stdio: 'ignore' });
    const s1 = process.hrtime.bigint();
    spawnSync('runc', ['start', name], { stdio: 'ignore' });
    startOnlyMs.push(ms(s1));
    createMs.push(Number(s1 - s0) / 1e6);
    createAndStartMs.push(ms(s0));
    spawnSync('runc', ['delete', '-f', name], { stdio: 'ignore' });
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) spawnSync('runc', ['run', '-b', bundle, `bench-run-${i}-${process.pid}`], { stdio: 'ignore' });
  const totalMs = ms(t0);
  rmSync(bundle, { recursive: true, force: true });
  return { totalMs, create: stats(createMs), startOnly: stats(startOnlyMs), createAndStart: stats(createAndStartMs) };
}

/** `docker run --rm` of the same root filesystem (imported as an image), when an engine answers. */
async function dockerRuns() {
  let dockerd;
  if (startDockerd && spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    const root = mkdtempSync(join(tmpdir(), 'bench-dockerd-'));
    dockerd = { root, proc: spawn('dockerd', ['--iptables=false', '--bridge=none', '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '-p', join(root, 'pid')], { stdio: 'ignore' }) };
    await eventually(async () => {
      if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) throw new Error('dockerd not up');
    }, 60000).catch(() => undefined);
  }
  try {
    if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) return { skipped: 'no docker engine answers (docker info failed); try --start-dockerd' };
    const rootfs = mkdtempSync(join(tmpdir(), 'bench-docker-rootfs-'));
    execFileSync(join(repo, 'tools/images/make-busybox-rootfs.sh'), [rootfs]);
    const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 1 << 28 });
    execFileSync('docker', ['import', '-', 'muelle-bench/busybox:latest'], { input: tar.stdout, stdio: ['pipe', 'ignore', 'inherit'] });
    rmSync(rootfs, { recursive: true, force: true });
    const result = {};
    for (const network of ['none', 'bridge']) {
      if (network === 'bridge' && spawnSync('docker', ['network', 'inspect', 'bridge'], { stdio: 'ignore' }).status !== 0) continue; // e.g. --bridge=none
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < runs; i++) {
        const run = spawnSync('docker', ['run', '--rm', '--network', network, 'muelle-bench/busybox:latest', 'true'], { encoding: 'utf8' });
        if (run.status !== 0) throw new Error(`docker run failed: ${run.stderr}`);
      }
      result[`run_${network}_totalMs`] = ms(t0);
    }
    spawnSync('docker', ['rmi', 'muelle-bench/busybox:latest'], { stdio: 'ignore' });
    return result;
  } finally {
    if (dockerd) {
      dockerd.proc.kill('SIGTERM');
      await new Promise((r) => dockerd.proc.once('exit', r));
      rmSync(dockerd.root, { recursive: true, force: true });
    }
  }
}

const result = { runs, agentNone: await agentRuns('none'), agentBridge: await agentRuns('bridge'), runc: runcRuns(), docker: await dockerRuns() };
console.log(JSON.stringify(result, null, 2));
const ratio = (a, b) => (Number(a) / Number(b)).toFixed(2);
const table = [
  ['', 'median ms', 'p90 ms', 'vs runc create+start', 'vs runc start only'],
  ...[['agent start, agent-side, network none', result.agentNone.startAgentSide], ['agent start, agent-side, network bridge', result.agentBridge.startAgentSide],
    ['agent start over the bus, network none', result.agentNone.startOverBus], ['runc create+start', result.runc.createAndStart], ['runc start only', result.runc.startOnly]]
    .map(([name, s]) => [name, s.median, s.p90, ratio(s.median, result.runc.createAndStart.median), ratio(s.median, result.runc.startOnly.median)]),
];
console.log('\nstart latency');
for (const row of table) console.log(row.map((cell, i) => String(cell).padEnd(i ? 22 : 42)).join(''));
console.log(`\n${runs} sequential \`true\` containers run to exit (create, start, wait, remove)`);
const totals = [['agent, network none', result.agentNone.totalMs], ['agent, network bridge', result.agentBridge.totalMs], ['runc run', result.runc.totalMs]];
if (result.docker.run_none_totalMs) totals.push(['docker run --rm --network none', result.docker.run_none_totalMs]);
if (result.docker.run_bridge_totalMs) totals.push(['docker run --rm --network bridge', result.docker.run_bridge_totalMs]);
for (const [name, total] of totals) {
  const vsDocker = result.docker.run_none_totalMs ? `  (${ratio(total, result.docker.run_none_totalMs)}x docker none)` : '';
  console.log(`${name.padEnd(42)}${(total / 1000).toFixed(2)} s  (${ratio(total, result.runc.totalMs)}x runc run)${vsDocker}`);
}
if (result.docker.skipped) console.log(`docker: ${result.docker.skipped}`);
await bus.close();
agent.kill('SIGTERM');
regProc.kill('SIGTERM');
await sleep(500);
rmSync(regDir, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });
rmSync(layout, { recursive: true, force: true });
process.exit(0);
