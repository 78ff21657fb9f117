#!/usr/bin/env node
// Agent vs runc on the same busybox root filesystem. Needs root, `npm run build`, NATS on :4222,
// apt-get install runc docker-registry skopeo busybox-static.
//   node tools/bench/runtime/run-bench.mjs [--runs 100]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(repo, 'dist', 'package.json'));
const { BusClient, createBusClientProxy } = require(join(repo, 'dist/node_modules/@muelle/bus'));
const { agentContracts } = require(join(repo, 'dist/node_modules/@muelle/contracts'));
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 100;
const id = () => randomBytes(32).toString('hex');
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)].toFixed(1), p90: s[Math.floor(s.length * 0.9)].toFixed(1), mean: (s.reduce((a, b) => a + b, 0) / s.length).toFixed(1) };
};

const sleep = (t) => new Promise((r) => setTimeout(r, t));
async function eventually(check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}
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
const agent = spawn(process.execPath, [join(repo, 'dist/apps/agent/src/main.js')], { stdio: 'inherit', env: { ...process.env,
  NATS_URL, MUELLE_AGENT_PORT: String(freePort()), MUELLE_DATA_DIR: dataDir, MUELLE_HOST_ID: hostId,
  MUELLE_LOG_LEVEL: 'warn', MUELLE_DEFAULT_REGISTRY: host, MUELLE_BRIDGE_NAME: 'muelle-bench0', MUELLE_BRIDGE_SUBNET: '10.89.79.0/24',
} });
const bus = new BusClient(createBusClientProxy({ kind: 'nats', url: NATS_URL }, 'api'));
await bus.connect();
const c = agentContracts(hostId);
await eventually(() => bus.request(c.list, {}, { timeoutMs: 1000 }));
await bus.request(c.pullImage, { reference: 'busybox:latest' });

async function agentRuns(network) {
  const startMs = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) {
    const created = await bus.request(c.create, { id: id(), name: `b${i}-${network}`, spec: { image: 'busybox:latest', command: ['true'], network } });
    const s0 = process.hrtime.bigint();
    await bus.request(c.start, { id: created.id });
    startMs.push(ms(s0));
    await bus.request(c.wait, { id: created.id }, { timeoutMs: 30000 });
    await bus.request(c.remove, { id: created.id });
  }
  return { totalMs: ms(t0), start: stats(startMs) };
}

function runcRuns() {
  const bundle = mkdtempSync(join(tmpdir(), 'bench-runc-'));
  execFileSync(join(repo, 'tools/images/make-busybox-rootfs.sh'), [join(bundle, 'rootfs')]);
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.args = ['true'];
  spec.process.terminal = false;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const startMs = [];
  for (let i = 0; i < 20; i++) {
    const name = `bench-${i}-${process.pid}`;
    spawnSync('runc', ['create', '-b', bundle, name], { stdio: 'ignore' });
    const s0 = process.hrtime.bigint();
    spawnSync('runc', ['start', name], { stdio: 'ignore' });
    startMs.push(ms(s0));
    spawnSync('runc', ['delete', '-f', name], { stdio: 'ignore' });
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) spawnSync('runc', ['run', '-b', bundle, `bench-run-${i}-${process.pid}`], { stdio: 'ignore' });
  const totalMs = ms(t0);
  rmSync(bundle, { recursive: true, force: true });
  return { totalMs, createToStart: stats(startMs) };
}

const result = { runs, agentNone: await agentRuns('none'), agentBridge: await agentRuns('bridge'), runc: runcRuns() };
console.log(JSON.stringify(result, null, 2));
await bus.close();
agent.kill('SIGTERM');
regProc.kill('SIGTERM');
await sleep(500);
rmSync(regDir, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });
rmSync(layout, { recursive: true, force: true });
process.exit(0);
