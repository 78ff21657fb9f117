#!/usr/bin/env node
// Agent memory with many running containers on one host: a standalone agent (dist/) on a private
// nats-server, busybox from a private Distribution registry, then 200 `sleep` containers started
// one by one (--network none, then the default bridge unless --no-bridge). Prints the agent's RSS
// and its V8 heap after a full collection (asked over the agent's inspector, on 127.0.0.1 only) at
// 0, 50, 100 and 200 containers, the cost per container, and the per-container helper processes'
// own memory (PSS, shared pages split between them). --all-in-one measures the all-in-one process
// instead (every service in one process on PGlite; containers made through /v1 as admin). Removes
// every container it made, also on failure or a signal.
// Needs root, `npm run build`, apt-get install nats-server docker-registry skopeo busybox-static.
// Run under the kernel lock:
//   flock /tmp/muelle-kernel.lock node tools/bench/agent/memory.mjs [--containers 200] [--no-bridge] [--all-in-one]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, sleep } from '../wait.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(repo, 'dist', 'package.json'));
const { BusClient, createBusClientProxy } = require(join(repo, 'dist/node_modules/@muelle/bus'));
const { agentContracts } = require(join(repo, 'dist/node_modules/@muelle/contracts'));
const WebSocket = require('ws');
const args = process.argv.slice(2);
const COUNT = Math.min(500, Number(args.includes('--containers') ? args[args.indexOf('--containers') + 1] : 200));
const NETWORKS = args.includes('--no-bridge') ? ['none'] : ['none', 'bridge'];
const CHECKPOINTS = [0, 50, 100, 200, COUNT].filter((n, i, all) => n <= COUNT && all.indexOf(n) === i);
const MIB = 2 ** 20;
const BRIDGE = 'muelle-mem0';
const SUBNET = '10.89.81.0/24';
const freePort = () => 20000 + Math.floor(Math.random() * 20000);
const ALL_IN_ONE = args.includes('--all-in-one');

/** kB fields of /proc/<pid>/status (VmRSS, RssAnon, …) and PSS from smaps_rollup, in bytes. */
function memoryOf(pid) {
  const fields = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) fields[m[1]] = Number(m[2]) * 1024;
  }
  const pss = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return { rss: fields.VmRSS ?? 0, anon: fields.RssAnon ?? 0, pss: pss ? Number(pss[1]) * 1024 : 0 };
}

/** Every process whose parent is `pid`, with its command name. */
function childrenOf(pid) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat);
      if (Number(rest.split(' ')[1]) === pid) found.push({ pid: Number(entry), comm });
    } catch {
      // The process ended while the table was read.
    }
  }
  return found;
}

/** A full collection in the agent over its inspector, then its heap and RSS as the agent sees them. */
async function collectedHeap(inspectorUrl) {
  const socket = new WebSocket(inspectorUrl);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let nextId = 0;
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const onMessage = (data) => {
        const message = JSON.parse(String(data));
        if (message.id !== id) return;
        socket.off('message', onMessage);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result);
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const { result } = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    return JSON.parse(result.value);
  } finally {
    socket.close();
  }
}

const cleanups = [];
const cleanup = async () => {
  // splice: a signal during the normal cleanup does not run a step twice.
  for (const step of cleanups.splice(0).reverse()) await step().catch((error) => console.error(`cleanup: ${error.message}`));
};
// A stopped benchmark (Ctrl-C, `timeout`) still removes its containers, agent and bridge.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}
/** `script` from dist/ in a child with its inspector on 127.0.0.1 (for the heap); stopped at cleanup. */
function spawnInspected(script, env, label) {
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', join(repo, 'dist', script)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const inspectorUrl = new Promise((resolve) => {
    let seen = '';
    child.stderr.on('data', (chunk) => {
      const text = String(chunk);
      const url = /Debugger listening on (ws:\/\/\S+)/.exec((seen += text));
      if (url) resolve(url[1]);
      for (const line of text.split('\n')) if (line && !/Debugger (listening|attached|ending)|For help, see|Waiting for the debugger/.test(line)) process.stderr.write(`${label}: ${line}\n`);
    });
  });
  cleanups.push(async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15000)]);
  });
  return { pid: child.pid, inspectorUrl };
}

/** A standalone agent on a private NATS, pulling from a private Distribution registry; containers made over the bus. */
async function standaloneAgent(layout) {
  const nats = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(freePort())], { stdio: 'ignore' });
  cleanups.push(async () => nats.kill('SIGTERM'));
  const natsUrl = `nats://127.0.0.1:${nats.spawnargs.at(-1)}`;
  const regDir = mkdtempSync(join(tmpdir(), 'bench-registry-'));
  cleanups.push(async () => rmSync(regDir, { recursive: true, force: true }));
  const regPort = freePort();
  writeFileSync(join(regDir, 'config.yml'), `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${regDir}/data }\nhttp:\n  addr: 127.0.0.1:${regPort}\n`);
  const registry = spawn('/usr/bin/docker-registry', ['serve', join(regDir, 'config.yml')], { stdio: 'ignore' });
  cleanups.push(async () => registry.kill('SIGTERM'));
  await eventually(async () => {
    if ((await fetch(`http://127.0.0.1:${regPort}/v2/`)).status !== 200) throw new Error('registry not up');
  });
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://127.0.0.1:${regPort}/busybox:latest`]);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-agent-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const hostId = `mem-${randomBytes(3).toString('hex')}`;
  const agent = spawnInspected('apps/agent/src/main.js', { NATS_URL: natsUrl, MUELLE_BUS_INSECURE: 'true', MUELLE_AGENT_PORT: String(freePort()), MUELLE_DATA_DIR: dataDir, MUELLE_HOST_ID: hostId, MUELLE_LOG_LEVEL: 'warn', MUELLE_REGISTRY_ADDRESS: `127.0.0.1:${regPort}`, MUELLE_BRIDGE_NAME: BRIDGE, MUELLE_BRIDGE_SUBNET: SUBNET }, 'agent');
  const bus = new BusClient(createBusClientProxy({ kind: 'nats', url: natsUrl }, 'api'));
  await eventually(() => bus.connect());
  cleanups.push(() => bus.close());
  const c = agentContracts(hostId);
  await eventually(() => bus.request(c.list, {}, { timeoutMs: 1000 }));
  await bus.request(c.pullImage, { reference: 'busybox:latest' });
  return {
    ...agent,
    async run(name, network) {
      const created = await bus.request(c.create, { id: randomBytes(32).toString('hex'), name, spec: { image: 'busybox:latest', command: ['sleep', '1d'], network } });
      await bus.request(c.start, { id: created.id });
      return created.id;
    },
    remove: (id) => bus.request(c.remove, { id, force: true }),
  };
}

/** The all-in-one (every service in one process, PGlite); containers made through /v1 as admin. */
async function allInOne(layout) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-aio-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const [apiPort, registryPort, password] = [freePort(), freePort(), randomBytes(12).toString('hex')];
  const platform = spawnInspected('apps/all-in-one/src/main.js', { MUELLE_DATA_DIR: dataDir, MUELLE_ADMIN_PASSWORD: password, MUELLE_API_PORT: String(apiPort), MUELLE_REGISTRY_PORT: String(registryPort), MUELLE_METADATA_PORT: '0', MUELLE_BUILDER_PORT: '0', MUELLE_AGENT_PORT: '0', MUELLE_BRIDGE_NAME: BRIDGE, MUELLE_BRIDGE_SUBNET: SUBNET, MUELLE_LOG_LEVEL: 'warn' }, 'all-in-one');
  const api = `http://127.0.0.1:${apiPort}`;
  await eventually(async () => {
    if ((await fetch(`${api}/readyz`)).status !== 200) throw new Error('all-in-one not ready');
  }, 120000);
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `admin:${password}`, `oci:${layout}:latest`, `docker://127.0.0.1:${registryPort}/busybox:latest`]);
  const headers = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`, 'content-type': 'application/json' };
  const call = async (method, path, body) => {
    const answer = await fetch(`${api}${path}`, { method, headers, body: body && JSON.stringify(body) });
    const text = await answer.text();
    if (answer.status >= 300) throw new Error(`${method} ${path}: HTTP ${answer.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : {};
  };
  return {
    ...platform,
    run: async (name, network) => (await call('POST', '/v1/containers', { image: 'busybox', command: ['sleep', '1d'], network, name, start: true })).id,
    remove: (id) => call('DELETE', `/v1/containers/${id}?force=true`),
  };
}

try {
  const layout = mkdtempSync(join(tmpdir(), 'bench-layout-'));
  cleanups.push(async () => rmSync(layout, { recursive: true, force: true }));
  execFileSync('node', [join(repo, 'tools/images/make-oci-layout.mjs'), layout, '--busybox']);
  // What the agent leaves on the host when it stops: its bridge and its nftables tables (named after the bridge).
  cleanups.push(async () => {
    for (const command of [['ip', 'link', 'del', BRIDGE], ['nft', 'delete', 'table', 'inet', `muelle_${BRIDGE.replaceAll('-', '_')}`], ['nft', 'delete', 'table', 'bridge', `muelle_${BRIDGE.replaceAll('-', '_')}`]]) {
      const done = spawnSync(command[0], command.slice(1), { encoding: 'utf8' });
      if (done.status !== 0 && !/Cannot find|No such file/.test(done.stderr)) console.error(`cleanup: ${command.join(' ')}: ${done.stderr.trim()}`);
    }
  });
  const platform = ALL_IN_ONE ? await allInOne(layout) : await standaloneAgent(layout);
  const what = ALL_IN_ONE ? 'all-in-one' : 'agent';
  const made = [];
  cleanups.push(async () => {
    for (const id of made) await platform.remove(id).catch((error) => console.error(`remove ${id.slice(0, 12)}: ${error.message}`));
  });

  const report = [];
  for (const network of NETWORKS) {
    const rows = [];
    for (let n = 0; n <= COUNT; n++) {
      if (CHECKPOINTS.includes(n)) {
        await sleep(3000);
        const heap = await collectedHeap(await platform.inspectorUrl);
        const now = memoryOf(platform.pid);
        const helpers = childrenOf(platform.pid).filter((p) => p.comm === 'muelle-isolate');
        const helperPss = helpers.reduce((sum, p) => sum + memoryOf(p.pid).pss, 0);
        rows.push({ n, rss: now.rss, anon: now.anon, heapUsed: heap.heapUsed, external: heap.external + heap.arrayBuffers, helpers: helpers.length, helperPss });
        console.log(
          `${network.padEnd(7)} ${String(n).padStart(4)} running: ${what} RSS ${(now.rss / MIB).toFixed(1)} MiB (anon ${(now.anon / MIB).toFixed(1)}), heap after GC ${(heap.heapUsed / MIB).toFixed(1)} MiB, external ${((heap.external + heap.arrayBuffers) / MIB).toFixed(1)} MiB; ${helpers.length} helper processes PSS ${(helperPss / MIB).toFixed(1)} MiB`,
        );
      }
      if (n === COUNT) break;
      made.push(await platform.run(`mem-${network}-${n}`, network));
    }
    const [first, last] = [rows[0], rows.at(-1)];
    const per = (key) => ((last[key] - first[key]) / COUNT / 1024).toFixed(0);
    report.push({ what, network, rows });
    console.log(`${network}: per container ${per('rss')} KiB ${what} RSS, ${per('heapUsed')} KiB heap after GC, ${(last.helperPss / COUNT / 1024).toFixed(0)} KiB helper PSS`);
    for (const id of made.splice(0)) await platform.remove(id);
  }
  console.log(JSON.stringify(report));
} finally {
  await cleanup();
}
