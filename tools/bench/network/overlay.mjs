#!/usr/bin/env node
// Overlay networks across hosts (VXLAN): throughput and round-trip latency between two containers on
// different "hosts" over the kernel VXLAN device the agent makes (same flags: nolearning proxy, MTU
// underlay − 50, static FDB and neighbour entries computed by the agent's own overlay-plan.ts), against
// the same pair of hosts talking directly over their underlay veth, and two containers on one host's
// bridge. Five network namespaces made here (two hosts joined by a veth, three containers); nothing
// else is touched. Needs root and `npm run build`. Run under the kernel lock:
//   flock /tmp/muelle-kernel.lock node tools/bench/network/overlay.mjs [--mib 256] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { arg, built, ns, sh } from './bench-common.mjs';

const { desiredEntries } = built('apps/agent/src/network/overlay-plan.js');
const { endpointMac } = built('libs/contracts/src/network/endpoint-mac.js');
const { VXLAN_OVERHEAD } = built('apps/agent/src/network/vxlan.js');
const mib = arg('--mib', 256, 4096);
const runs = arg('--runs', 3, 20);

const [HA, HB, CA, CA2, CB] = ['mbov-host-a', 'mbov-host-b', 'mbov-ctr-a', 'mbov-ctr-a2', 'mbov-ctr-b'];
const NETWORK = 'b'.repeat(64);
const VNI = 4242;
const PORT = 4789;
const underlay = { [HA]: '10.89.97.1', [HB]: '10.89.97.2' };
const containers = { [CA]: { host: HA, ip: '10.89.98.2', id: 'a'.repeat(64) }, [CA2]: { host: HA, ip: '10.89.98.4', id: 'c'.repeat(64) }, [CB]: { host: HB, ip: '10.89.98.3', id: 'd'.repeat(64) } };
const tearDown = () => [HA, HB, CA, CA2, CB].forEach((n) => spawnSync('ip', ['netns', 'del', n]));

const server = `
const net = require('node:net');
net.createServer((s) => { let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => s.end(String(n))); }).listen(9000);
net.createServer((s) => s.pipe(s)).listen(9001);`;
const client = (host, bytes, rounds) => `
const net = require('node:net');
const chunk = Buffer.alloc(1 << 16, 120);
const t0 = process.hrtime.bigint();
const s = net.connect(9000, '${host}', () => {
  let left = ${bytes};
  const pump = () => { while (left > 0) { left -= chunk.length; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); };
  pump();
});
let reply = '';
s.on('data', (d) => (reply += d));
s.on('end', () => {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const e = net.connect(9001, '${host}', () => {
    const rtts = []; let t = process.hrtime.bigint();
    e.on('data', () => { rtts.push(Number(process.hrtime.bigint() - t) / 1e3); if (rtts.length === ${rounds}) { e.end(); rtts.sort((a, b) => a - b); console.log(JSON.stringify({ mbps: Number(reply) / seconds / 1e6, rttMedianUs: rtts[rtts.length >> 1], rttP99Us: rtts[Math.floor(rtts.length * 0.99)] })); } else { t = process.hrtime.bigint(); e.write('x'); } });
    e.write('x');
  });
});`;

const children = [];
try {
  tearDown();
  for (const n of [HA, HB, CA, CA2, CB]) {
    sh(['ip', 'netns', 'add', n]);
    ns(n, ['ip', 'link', 'set', 'lo', 'up']);
  }
  // The underlay: one veth between the two hosts.
  ns(HA, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', HB]);
  for (const h of [HA, HB]) {
    ns(h, ['ip', 'addr', 'add', `${underlay[h]}/24`, 'dev', 'eth0']);
    ns(h, ['ip', 'link', 'set', 'eth0', 'up']);
  }
  const mtu = Number(ns(HA, ['cat', '/sys/class/net/eth0/mtu']).trim()) - VXLAN_OVERHEAD;
  // Each host: the network's bridge and its VXLAN device, as vxlan.ts makes them.
  for (const h of [HA, HB]) {
    ns(h, ['ip', 'link', 'add', 'mnbench', 'type', 'bridge']);
    ns(h, ['ip', 'link', 'add', 'mxbench', 'type', 'vxlan', 'id', String(VNI), 'local', underlay[h], 'dstport', String(PORT), 'nolearning', 'proxy']);
    ns(h, ['ip', 'link', 'set', 'mxbench', 'mtu', String(mtu), 'master', 'mnbench']);
    ns(h, ['ip', 'link', 'set', 'mnbench', 'mtu', String(mtu), 'up']);
    ns(h, ['ip', 'link', 'set', 'mxbench', 'up']);
  }
  for (const [name, c] of Object.entries(containers)) {
    const port = `mv${name.slice(-2).replace('-', '')}`;
    ns(c.host, ['ip', 'link', 'add', port, 'mtu', String(mtu), 'master', 'mnbench', 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(mtu), 'address', endpointMac(c.id, NETWORK), 'netns', name]);
    ns(c.host, ['ip', 'link', 'set', port, 'up']);
    ns(name, ['ip', 'addr', 'add', `${c.ip}/24`, 'dev', 'eth0']);
    ns(name, ['ip', 'link', 'set', 'eth0', 'up']);
  }
  // Forwarding and neighbour entries from the "record", computed by the agent's own plan.
  for (const h of [HA, HB]) {
    const peers = Object.values(containers).filter((c) => c.host !== h).map((c) => ({ containerId: c.id, hostId: c.host, underlayAddress: underlay[c.host], address: c.ip }));
    const { fdb, neighbours } = desiredEntries(NETWORK, peers);
    for (const e of fdb) ns(h, ['bridge', 'fdb', 'replace', e.mac, 'dev', 'mxbench', 'dst', e.remote, 'self', 'permanent']);
    for (const e of neighbours) ns(h, ['ip', 'neigh', 'replace', e.ip, 'lladdr', e.mac, 'dev', 'mxbench', 'nud', 'permanent']);
  }
  let stderr = '';
  for (const where of [CA, HA]) {
    const child = spawn('ip', ['netns', 'exec', where, process.execPath, '-e', server], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => (stderr += d));
    children.push(child);
  }
  const probe = (from, host, port) => spawnSync('ip', ['netns', 'exec', from, 'timeout', '1', 'bash', '-c', `echo > /dev/tcp/${host}/${port}`]).status === 0;
  const paths = { 'overlay (VXLAN, two hosts)': [CB, containers[CA].ip], 'one host bridge': [CA2, containers[CA].ip], 'underlay veth (host to host)': [HB, underlay[HA]] };
  for (const [from, host] of Object.values(paths)) {
    for (const port of [9000, 9001]) {
      let i = 0;
      while (!probe(from, host, port) && i++ < 100) spawnSync('sleep', ['0.2']);
      if (i > 100) throw new Error(`${host}:${port} never answered from ${from}; servers said: ${stderr}`);
    }
  }
  const results = {};
  for (let run = 0; run < runs; run++) {
    for (const [name, [from, host]] of Object.entries(paths)) (results[name] ??= []).push(JSON.parse(ns(from, [process.execPath, '-e', client(host, mib * 1024 * 1024, 2000)])));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`${mib} MiB per run, ${runs} runs, 2000 one-byte round trips, overlay MTU ${mtu}; medians:`);
  for (const [name, rs] of Object.entries(results)) {
    console.log(`${name.padEnd(29)} ${median(rs.map((r) => r.mbps)).toFixed(0).padStart(6)} MB/s   rtt ${median(rs.map((r) => r.rttMedianUs)).toFixed(0).padStart(5)} µs (p99 ${median(rs.map((r) => r.rttP99Us)).toFixed(0)} µs)`);
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  tearDown();
}
