#!/usr/bin/env node
// Published-port forwarding: throughput and round-trip latency through the kernel DNAT rules the
// agent applies (rules.ts, nftables), against the same container reached directly (routed, no NAT,
// measured with the host's rules flushed: they let nothing routed in reach a container un-NATed)
// and through a userland Node pipe proxy like the former PortProxy, for reference. Three network
// namespaces made here (host with bridge and rules, container, LAN client); nothing else is touched.
// Needs root, `npm run build`, nftables. Run under the kernel lock:
//   flock /tmp/muelle-kernel.lock node tools/bench/network/port-forward.mjs [--mib 256] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { arg, built, ns, sh } from './bench-common.mjs';

const { nftRuleset } = built('apps/agent/src/network/rules.js');
const mib = arg('--mib', 256, 4096);
const runs = arg('--runs', 3, 20);

const [HOST, CTR, CLIENT] = ['mbench-host', 'mbench-ctr', 'mbench-client'];
const CTR_IP = '10.89.94.2';
const HOST_LAN = '10.89.95.1';
const tearDown = () => [HOST, CTR, CLIENT].forEach((n) => spawnSync('ip', ['netns', 'del', n]));

// Sink on 9000 answers with the byte count at the end; echo on 9001 for round trips.
const server = `
const net = require('node:net');
net.createServer((s) => { let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => s.end(String(n))); }).listen(9000);
net.createServer((s) => s.pipe(s)).listen(9001);`;
// Like the former PortProxy: one upstream connection per client, piped both ways (half-open kept,
// so the sink's byte count makes it back after the client's end).
const proxy = `
const net = require('node:net');
for (const [listen, target] of [[29000, 9000], [29001, 9001]]) net.createServer({ allowHalfOpen: true }, (c) => { const u = net.connect({ port: target, host: '${CTR_IP}', allowHalfOpen: true }); c.pipe(u).pipe(c); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); }).listen(listen, '${HOST_LAN}');`;
const client = (host, port, bytes, echoPort, rounds) => `
const net = require('node:net');
const chunk = Buffer.alloc(1 << 16, 120);
const t0 = process.hrtime.bigint();
const s = net.connect(${port}, '${host}', () => {
  let left = ${bytes};
  const pump = () => { while (left > 0) { left -= chunk.length; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); };
  pump();
});
let reply = '';
s.on('data', (d) => (reply += d));
s.on('end', () => {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const e = net.connect(${echoPort}, '${host}', () => {
    const rtts = []; let t = process.hrtime.bigint();
    e.on('data', () => { rtts.push(Number(process.hrtime.bigint() - t) / 1e3); if (rtts.length === ${rounds}) { e.end(); rtts.sort((a, b) => a - b); console.log(JSON.stringify({ mbps: Number(reply) / seconds / 1e6, rttMedianUs: rtts[rtts.length >> 1] })); } else { t = process.hrtime.bigint(); e.write('x'); } });
    e.write('x');
  });
});`;

const children = [];
try {
  tearDown();
  for (const n of [HOST, CTR, CLIENT]) {
    sh(['ip', 'netns', 'add', n]);
    ns(n, ['ip', 'link', 'set', 'lo', 'up']);
  }
  ns(HOST, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  ns(HOST, ['ip', 'link', 'add', 'mbenchbr0', 'type', 'bridge']);
  ns(HOST, ['ip', 'addr', 'add', '10.89.94.1/24', 'dev', 'mbenchbr0']);
  ns(HOST, ['ip', 'link', 'set', 'mbenchbr0', 'up']);
  ns(HOST, ['ip', 'link', 'add', 'mbenchv0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CTR]);
  ns(HOST, ['ip', 'link', 'set', 'mbenchv0', 'master', 'mbenchbr0']);
  ns(HOST, ['ip', 'link', 'set', 'mbenchv0', 'up']);
  ns(CTR, ['ip', 'addr', 'add', `${CTR_IP}/24`, 'dev', 'eth0']);
  ns(CTR, ['ip', 'link', 'set', 'eth0', 'up']);
  ns(CTR, ['ip', 'route', 'add', 'default', 'via', '10.89.94.1']);
  ns(HOST, ['ip', 'link', 'add', 'mbenchlan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT]);
  ns(HOST, ['ip', 'addr', 'add', `${HOST_LAN}/30`, 'dev', 'mbenchlan0']);
  ns(HOST, ['ip', 'link', 'set', 'mbenchlan0', 'up']);
  ns(CLIENT, ['ip', 'addr', 'add', '10.89.95.2/30', 'dev', 'eth0']);
  ns(CLIENT, ['ip', 'link', 'set', 'eth0', 'up']);
  ns(CLIENT, ['ip', 'route', 'add', '10.89.94.0/24', 'via', HOST_LAN]); // "direct": routed, no NAT
  const published = [9000, 9001].map((p) => ({ hostIp: '0.0.0.0', hostPort: 10000 + p, protocol: 'tcp', targetIp: CTR_IP, targetPort: p }));
  const rules = nftRuleset({ bridge: 'mbenchbr0', subnet: '10.89.94.0/24', members: [{ hostInterface: 'mbenchv0', ipAddress: CTR_IP, group: 'g' }], published });
  // The direct path has no rules at all (only this bench's own namespace is flushed); the others have the agent's.
  const rulesFor = (host) => (host === CTR_IP ? ns(HOST, ['nft', 'flush', 'ruleset']) : ns(HOST, ['nft', '-f', '-'], rules));
  let stderr = '';
  for (const [where, code] of [[CTR, server], [HOST, proxy]]) {
    const child = spawn('ip', ['netns', 'exec', where, process.execPath, '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => (stderr += d));
    children.push(child);
  }
  // Wait on every port the runs use (bounded), not on a timer.
  const probe = (host, port) => spawnSync('ip', ['netns', 'exec', CLIENT, 'timeout', '1', 'bash', '-c', `echo > /dev/tcp/${host}/${port}`]).status === 0;
  for (const [host, port] of [[CTR_IP, 9000], [CTR_IP, 9001], [HOST_LAN, 29000], [HOST_LAN, 29001], [HOST_LAN, 19000]]) {
    rulesFor(host);
    let i = 0;
    while (!probe(host, port) && i++ < 100) spawnSync('sleep', ['0.2']);
    if (i > 100) throw new Error(`${host}:${port} never answered; servers said: ${stderr}`);
  }

  const paths = { direct: [CTR_IP, 9000, 9001], 'kernel DNAT': [HOST_LAN, 19000, 19001], 'userland proxy': [HOST_LAN, 29000, 29001] };
  const results = {};
  for (let run = 0; run < runs; run++) {
    for (const [name, [host, port, echo]] of Object.entries(paths)) {
      rulesFor(host);
      const out = ns(CLIENT, [process.execPath, '-e', client(host, port, mib * 1024 * 1024, echo, 2000)]);
      (results[name] ??= []).push(JSON.parse(out));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`${mib} MiB per run, ${runs} runs, 2000 one-byte round trips; medians:`);
  for (const [name, rs] of Object.entries(results)) {
    console.log(`${name.padEnd(15)} ${median(rs.map((r) => r.mbps)).toFixed(0).padStart(6)} MB/s   rtt ${median(rs.map((r) => r.rttMedianUs)).toFixed(0).padStart(5)} µs`);
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  tearDown();
}
