#!/usr/bin/env node
// Routing mesh: HTTP requests per second and latency through a service's mesh port (the agent's own
// mesh-plan.ts and rules.ts, nftables) against a direct connection to the replica, a new connection
// per request (each is balanced); and failover: the time a client sees failures when one of two
// replicas' host dies, until the rules without it are applied (what every agent does once the
// platform's record shows the host down: see ARCHITECTURE.md, Routing mesh). Host A runs replica a,
// host B replica b (published host-mode on backend port 31000); a client on A's LAN. Five network
// namespaces made here (10.89.130.0/24–10.89.133.0/24), the same test bed as mesh.int-spec.ts
// (apps/agent/src/network/testing/mesh-topology.ts); nothing else is touched. Needs root and
// `npm run build`. Run under the kernel lock:
//   flock /tmp/muelle-kernel.lock node tools/bench/network/mesh.mjs [--requests 2000] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { arg, built, ns } from './bench-common.mjs';

const { meshNftRules } = built('apps/agent/src/network/mesh-plan.js');
const { nftRuleset } = built('apps/agent/src/network/rules.js');
const { createMeshTopology, destroyMeshTopology, meshTopology } = built('apps/agent/src/network/testing/mesh-topology.js');
const requests = arg('--requests', 2000, 100_000);
const runs = arg('--runs', 3, 20);

const t = meshTopology('mbmesh', 130);
const { a: A, b: B, ctrA: CA, ctrB: CB, client: CLIENT, replicaA: REPLICA_A, replicaB: REPLICA_B, aLan: A_LAN, bUnderlay: B_UND } = t;

const server = `require('node:http').createServer((q, s) => s.end(process.argv[1])).listen(80);`;
// Sequential GETs, a new connection each; prints req/s, latency percentiles (µs) and the replicas seen.
const bench = (host, port, n) => `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: false });
const lat = []; const seen = {}; let failed = 0;
const one = () => new Promise((resolve) => {
  const t = process.hrtime.bigint();
  const q = http.get({ host: '${host}', port: ${port}, agent, timeout: 2000 }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => { lat.push(Number(process.hrtime.bigint() - t) / 1e3); seen[b] = (seen[b] ?? 0) + 1; resolve(); }); });
  q.on('timeout', () => q.destroy(new Error('timeout')));
  q.on('error', () => { failed++; resolve(); });
});
(async () => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ${n}; i++) await one();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ rps: ${n} / s, p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)], seen, failed }));
})();`;
// Asks every 10 ms (a request times out after 300 ms); prints the failed requests, when the first
// failed and when the last failed one had been sent (ms since the watcher's start).
const watch = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: false });
const t0 = Date.now(); let firstFail = null; let lastFail = null; let fails = 0; let sent = 0;
const tick = () => { const at = Date.now() - t0; sent++; const q = http.get({ host: '${A_LAN}', port: 18080, agent, timeout: 300 }, (r) => { r.resume(); r.on('end', next); }); q.on('timeout', () => q.destroy(new Error('t'))); q.on('error', () => { fails++; firstFail ??= at; lastFail = at; next(); }); };
const next = () => (Date.now() - t0 > 4000 ? console.log(JSON.stringify({ firstFail, lastFail, fails, sent })) : setTimeout(tick, 10));
tick();`;

const children = [];
try {
  createMeshTopology(t);
  const member = (veth, ip) => [{ hostInterface: veth, ipAddress: ip, group: 'g' }];
  ns(A, ['nft', '-f', '-'], nftRuleset({ bridge: t.bridgeA, subnet: t.subnetA, members: member(t.vethA, REPLICA_A), published: [] }));
  ns(B, ['nft', '-f', '-'], nftRuleset({ bridge: t.bridgeB, subnet: t.subnetB, members: member(t.vethB, REPLICA_B), published: [{ hostIp: '0.0.0.0', hostPort: 31000, protocol: 'tcp', targetIp: REPLICA_B, targetPort: 80 }] }));
  const mesh = (backends) => ns(A, ['nft', '-f', '-'], meshNftRules([{ publishedPort: 18080, protocol: 'tcp', backends }]));
  const local = { address: REPLICA_A, port: 80 };
  const remote = { address: B_UND, port: 31000 };
  for (const [where, name] of [[CA, 'a'], [CB, 'b']]) children.push(spawn('ip', ['netns', 'exec', where, process.execPath, '-e', server, name], { stdio: 'ignore' }));
  const probe = (host, port) => spawnSync('ip', ['netns', 'exec', host === REPLICA_A ? A : CLIENT, 'timeout', '1', 'bash', '-c', `echo > /dev/tcp/${host}/${port}`]).status === 0;
  mesh([remote]);
  for (const [host, port] of [[REPLICA_A, 80], [A_LAN, 18080]]) {
    let i = 0;
    while (!probe(host, port) && i++ < 100) spawnSync('sleep', ['0.2']);
    if (i > 100) throw new Error(`${host}:${port} never answered`);
  }

  const paths = { 'direct (from host A)': [[local], REPLICA_A, 80], 'mesh, local replica': [[local], A_LAN, 18080], 'mesh, remote replica': [[remote], A_LAN, 18080], 'mesh, both': [[local, remote], A_LAN, 18080] };
  const results = {};
  for (let run = 0; run < runs; run++) {
    for (const [name, [backends, host, port]] of Object.entries(paths)) {
      mesh(backends);
      // Direct: from host A itself (the bridge's rules let nothing routed in reach a container un-NATed).
      (results[name] ??= []).push(JSON.parse(ns(host === REPLICA_A ? A : CLIENT, [process.execPath, '-e', bench(host, port, requests)])));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`${requests} sequential HTTP GETs per run (new connection each), ${runs} runs; medians:`);
  for (const [name, rs] of Object.entries(results)) {
    const r = rs[rs.length >> 1];
    console.log(`${name.padEnd(22)} ${median(rs.map((x) => x.rps)).toFixed(0).padStart(6)} req/s   p50 ${median(rs.map((x) => x.p50)).toFixed(0).padStart(5)} µs   p99 ${median(rs.map((x) => x.p99)).toFixed(0).padStart(6)} µs   replicas ${JSON.stringify(r.seen)} failed ${r.failed}`);
  }

  // Failover: host B dies (its underlay link goes down) while a client asks every 10 ms; 500 ms later
  // the rules without b are applied (the platform's part before that: heartbeats missed, host marked down).
  mesh([local, remote]);
  const spawnedAt = Date.now();
  const watcher = spawn('ip', ['netns', 'exec', CLIENT, process.execPath, '-e', watch], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  watcher.stdout.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 500));
  const killedAt = Date.now();
  ns(B, ['ip', 'link', 'set', `${t.underlayA}p`, 'down']);
  await new Promise((r) => setTimeout(r, 500));
  const applyStart = Date.now();
  mesh([local]);
  const applied = Date.now();
  await new Promise((r) => watcher.on('exit', r));
  const f = JSON.parse(out);
  // Times from the watcher's spawn (its own clock starts a little later: node's start-up).
  console.log(`failover: host B down at ${killedAt - spawnedAt} ms, rules without b applied at ${applied - spawnedAt} ms (nft -f took ${applied - applyStart} ms); client: ${f.fails} of ${f.sent} requests failed, the first sent at ~${f.firstFail} ms, the last at ~${f.lastFail} ms`);
} finally {
  for (const c of children) c.kill('SIGKILL');
  destroyMeshTopology(t);
}
