#!/usr/bin/env node
// Container start with and without the seccomp filter, through the isolation driver itself (no
// agent, no bus), and `runc run` of the same busybox root for reference, all in one run.
// Needs root, `npm run build`, apt-get install busybox-static runc. Run under the kernel lock:
//   flock /tmp/muelle-kernel.lock node tools/bench/isolation/bench.mjs [--runs 50]
// start = driver.run() called -> the entrypoint exec'd (`started`); run = called -> `true` exited.
// Runs alternate between the two modes so drift on a shared machine hits both alike.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(repo, 'dist', 'package.json'));
const { LinuxIsolationDriver, helperPath, defaultSeccompProfile, seccompSpecLines, hostArchitecture, DOCKER_DEFAULT_CAPABILITIES } = require(join(repo, 'dist/node_modules/@muelle/isolation'));
const runsArg = process.argv.indexOf('--runs');
const runs = Math.min(Math.max(Number(runsArg > 0 ? process.argv[runsArg + 1] : 50) || 50, 5), 500);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
const fmt = (xs) => `median ${median(xs).toFixed(2)} ms, p90 ${p90(xs).toFixed(2)} ms`;

const rootfs = mkdtempSync(join(tmpdir(), 'bench-isolation-'));
execFileSync(join(repo, 'tools/images/make-busybox-rootfs.sh'), [rootfs]);
const driver = new LinuxIsolationDriver();

async function once(seccomp) {
  const t0 = process.hrtime.bigint();
  const c = await driver.run({ rootfs, args: ['true'], env: ['PATH=/bin'], seccomp, stdio: { stdout: 'ignore', stderr: 'ignore' } });
  const start = ms(t0);
  const status = await c.wait();
  if (status.exitCode !== 0) throw new Error(`container exited ${status.exitCode}`);
  return { start, run: ms(t0) };
}

// What the helper compiles on every start: time `seccomp-check` (parse + compile + export) alone.
const lines = seccompSpecLines(defaultSeccompProfile(), DOCKER_DEFAULT_CAPABILITIES, hostArchitecture());
const checkMs = [];
for (let i = 0; i < Math.min(runs, 50); i++) {
  const t0 = process.hrtime.bigint();
  execFileSync(helperPath(), ['seccomp-check'], { input: ['arg=true', ...lines, ''].join('\n') });
  checkMs.push(ms(t0));
}
const instructions = /instructions (\d+)/.exec(execFileSync(helperPath(), ['seccomp-check'], { input: ['arg=true', ...lines, ''].join('\n') }).toString())?.[1];

const results = { default: { start: [], run: [] }, unconfined: { start: [], run: [] } };
for (let i = 0; i < 3; i++) await once('default'); // warm the page cache
for (let i = 0; i < runs; i++) {
  for (const mode of i % 2 ? ['default', 'unconfined'] : ['unconfined', 'default']) {
    const r = await once(mode);
    results[mode].start.push(r.start);
    results[mode].run.push(r.run);
  }
}

function runcRuns() {
  if (spawnSync('runc', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const bundle = mkdtempSync(join(tmpdir(), 'bench-isolation-runc-'));
  execFileSync(join(repo, 'tools/images/make-busybox-rootfs.sh'), [join(bundle, 'rootfs')]);
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.args = ['true'];
  spec.process.terminal = false;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync('runc', ['run', '-b', bundle, `bench-iso-${i}-${process.pid}`], { stdio: 'ignore' });
    times.push(ms(t0));
  }
  rmSync(bundle, { recursive: true, force: true });
  return times;
}
const runc = runcRuns();
rmSync(rootfs, { recursive: true, force: true });

const d = results.default;
const u = results.unconfined;
console.log(`isolation bench: ${runs} runs per mode, busybox \`true\`, no cgroup, network none`);
console.log(`  seccomp filter: ${lines.length - 1} rule lines -> ${instructions} BPF instructions; helper parse+compile alone: ${fmt(checkMs)}`);
console.log(`  start, unconfined: ${fmt(u.start)}`);
console.log(`  start, default filter: ${fmt(d.start)}  (+${(median(d.start) - median(u.start)).toFixed(2)} ms median)`);
console.log(`  run to exit, unconfined: ${fmt(u.run)}`);
console.log(`  run to exit, default filter: ${fmt(d.run)}  (+${(median(d.run) - median(u.run)).toFixed(2)} ms median)`);
if (runc) console.log(`  runc run (reference, its default spec, no seccomp): ${fmt(runc)}; ratio ours-with-filter/runc ${(median(d.run) / median(runc)).toFixed(2)}`);
else console.log('  runc: not installed, skipped');
