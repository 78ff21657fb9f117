#!/usr/bin/env node
// Routing mesh: HTTP requests per second and latency through a service's mesh port (the agent's own
// mesh-plan.ts and rules.ts, nftables) against a direct connection to the replica, a new connection
// per request (each is balanced); and failover: the time a client sees failures when one of two
// replicas' host dies, until the rules without it are applied (what every agent does once the
// platform's record shows the host down: see ARCHITECTURE.md, Routing mesh). Host A runs replica a,
// host B replica b (published host-mode on backend port 31000); a client on A's LAN. Six network
// namespaces made here (10.89.130.0/24–10.89.133.0/24); nothing else is touched. Needs root and
// `npm run build`. Run under the kernel lock:
//   flock /tmp/muelle-kernel.lock node tools/bench/network/mesh.mjs [--requests 2000] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { arg, built, ns, sh } from './bench-common.mjs';

const { meshNftRules } = built('apps/agent/src/network/mesh-plan.js');
const { nftRuleset } = built('apps/agent/src/network/rules.js');
const requests = arg('--requests', 2000, 100_000);
const runs = arg('--runs', 3, 20);

const [A, B, CA, CB, CLIENT] = ['mbmesh-a', 'mbmesh-b', 'mbmesh-ca', 'mbmesh-cb', 'mbmesh-client'];
const [REPLICA_A, REPLICA_B, A_LAN, CLIENT_IP, A_UND, B_UND] = ['10.89.130.2', '10.89.131.2', '10.89.132.1', '10.89.132.2', '10.89.133.1', '10.89.133.2'];
const tearDown = () => [A, B, CA, CB, CLIENT].forEach((n) => spawnSync('ip', ['netns', 'del', n]));

function bridge(host, br, veth, ctr, ip) {
  const gw = ip.replace(/\.\d+$/, '.1');
  ns(host, ['ip', 'link', 'add', br, 'type', 'bridge']);
  ns(host, ['ip', 'addr', 'add', `${gw}/24`, 'dev', br]);
  ns(host, ['ip', 'link', 'set', br, 'up']);
  ns(host, ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ctr]);
  ns(host, ['ip', 'link', 'set', veth, 'master', br]);
  ns(host, ['ip', 'link', 'set', veth, 'up']);
  ns(ctr, ['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  ns(ctr, ['ip', 'link', 'set', 'eth0', 'up']);
  ns(ctr, ['ip', 'route', 'add', 'default', 'via', gw]);
}
function link(left, ifname, leftIp, right, rightIp) {
  ns(left, ['ip', 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}p`, 'netns', right]);
  ns(left, ['ip', 'addr', 'add', `${leftIp}/24`, 'dev', ifname]);
  ns(left, ['ip', 'link', 'set', ifname, 'up']);
  ns(right, ['ip', 'addr', 'add', `${rightIp}/24`, 'dev', `${ifname}p`]);
  ns(right, ['ip', 'link', 'set', `${ifname}p`, 'up']);
}

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
// Asks every 10 ms; prints the first failure and the first success after it (ms since start).
const watch = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: false });
const t0 = Date.now(); let firstFail = null; let recovered = null; let fails = 0;
const tick = () => { const q = http.get({ host: '${A_LAN}', port: 18080, agent, timeout: 300 }, (r) => { r.resume(); r.on('end', () => { if (firstFail !== null && recovered === null) recovered = Date.now() - t0; next(); }); }); q.on('timeout', () => q.destroy(new Error('t'))); q.on('error', () => { fails++; if (firstFail === null) firstFail = Date.now() - t0; next(); }); };
const next = () => (Date.now() - t0 > 4000 ? console.log(JSON.stringify({ firstFail, recovered, fails })) : setTimeout(tick, 10));
tick();`;

const children = [];
try {
  tearDown();
  for (const n of [A, B, CA, CB, CLIENT]) {
    sh(['ip', 'netns', 'add', n]);
    ns(n, ['ip', 'link', 'set', 'lo', 'up']);
  }
  for (const h of [A, B]) ns(h, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  bridge(A, 'mbmeshbr0', 'mbmeshva', CA, REPLICA_A);
  bridge(B, 'mbmeshbr1', 'mbmeshvb', CB, REPLICA_B);
  link(A, 'mbmeshlan', A_LAN, CLIENT, CLIENT_IP);
  link(A, 'mbmeshund', A_UND, B, B_UND);
  const member = (veth, ip) => [{ hostInterface: veth, ipAddress: ip, group: 'g' }];
  ns(A, ['nft', '-f', '-'], nftRuleset({ bridge: 'mbmeshbr0', subnet: '10.89.130.0/24', members: member('mbmeshva', REPLICA_A), published: [] }));
  ns(B, ['nft', '-f', '-'], nftRuleset({ bridge: 'mbmeshbr1', subnet: '10.89.131.0/24', members: member('mbmeshvb', REPLICA_B), published: [{ hostIp: '0.0.0.0', hostPort: 31000, protocol: 'tcp', targetIp: REPLICA_B, targetPort: 80 }] }));
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
  ns(B, ['ip', 'link', 'set', 'mbmeshundp', 'down']);
  await new Promise((r) => setTimeout(r, 500));
  const applyStart = Date.now();
  mesh([local]);
  const applied = Date.now();
  await new Promise((r) => watcher.on('exit', r));
  const f = JSON.parse(out);
  // Times from the watcher's spawn (its own clock starts a little later: node's start-up).
  console.log(`failover: host B down at ${killedAt - spawnedAt} ms, rules without b applied at ${applied - spawnedAt} ms (nft -f took ${applied - applyStart} ms); client: ${f.fails} failed requests, first at ~${f.firstFail} ms, answering again at ~${f.recovered} ms`);
} finally {
  for (const c of children) c.kill('SIGKILL');
  tearDown();
}
