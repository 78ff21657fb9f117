import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupV1Driver, CgroupV2Driver, detectCgroupDriver, detectCgroupMode, type CgroupDriver } from '../src';
import { describeCgroupDriver } from './describe-cgroup-driver';

// The dev/CI hosts are hybrid: v1 controllers plus a v2 tree without resource controllers.
describe('cgroup layout detection', () => {
  it('treats hybrid and legacy hosts as v1 and unified hosts as v2', async () => {
    const mode = await detectCgroupMode();
    const driver = await detectCgroupDriver();
    expect(driver.version).toBe(mode === 'v2' ? 2 : 1);
  });
});

const v1Available = existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes');
(v1Available ? describe : describe.skip)('v1 on the host hierarchy', () => {
  describeCgroupDriver('v1 (/sys/fs/cgroup/<controller>/muelle-test)', () => new CgroupV1Driver({ parent: 'muelle-test' }), () => ({
    memory: true,
    cpu: true,
    pids: true,
  }));
});

// A v2 hierarchy on a temp mount point. On a hybrid host this is the same (controller-less)
// unified tree, so limits are expected to fail loudly; on a v2 host all controllers are covered.
let v2Root = '';
let v2Controllers: string[] = [];
beforeAll(() => {
  v2Root = mkdtempSync(join(tmpdir(), 'muelle-cgroup2-'));
  execFileSync('mount', ['-t', 'cgroup2', 'none', v2Root]);
  v2Controllers = readFileSync(join(v2Root, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
});
afterAll(() => {
  if (!v2Root) return;
  rmdirQuietly(join(v2Root, 'muelle-test'));
  execFileSync('umount', [v2Root]);
  rmdirSync(v2Root);
});
afterAll(() => {
  for (const controller of ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'devices']) rmdirQuietly(`/sys/fs/cgroup/${controller}/muelle-test`);
});

/** The per-suite parent cgroup; only empty cgroups can be removed, so this never hides a leak. */
function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // absent, or still holds a leaked child (which the suite's own afterAll reports)
  }
}

describeCgroupDriver('v2 (temporary cgroup2 mount)', () => new CgroupV2Driver({ root: v2Root, parent: 'muelle-test' }), () => ({
  memory: v2Controllers.includes('memory'),
  cpu: v2Controllers.includes('cpu'),
  pids: v2Controllers.includes('pids'),
}));

/**
 * Two agents on one machine each get their own nested parent (`muelle/<scope>`). Each must see
 * (list, destroy) only its own cgroups: an agent's startup cleanup of cgroups it has no record of
 * once killed the containers of every other agent.
 */
function describeSeparateScopes(name: string, makeDriver: (parent: string) => CgroupDriver, base: () => string[]): void {
  describe(`separate nested parents: ${name}`, () => {
    afterAll(() => {
      for (const dir of base()) for (const scope of ['scope-a', 'scope-b', '']) rmdirQuietly(join(dir, 'muelle-scoped', scope));
    });

    it('creates cgroups below a nested parent and never lists, kills or removes another parent\'s', async () => {
      const a = makeDriver('muelle-scoped/scope-a');
      const b = makeDriver('muelle-scoped/scope-b');
      const id = `scoped-${process.pid}`;
      await a.create(id);
      const child = spawn('sh', ['-c', 'read go; sleep 60'], { stdio: ['pipe', 'ignore', 'ignore'] });
      try {
        for (const dir of a.paths(id)) writeFileSync(join(dir, 'cgroup.procs'), String(child.pid));
        child.stdin?.end('go\n');
        for (const p of a.paths(id)) expect(p).toContain(join('muelle-scoped', 'scope-a', id));
        expect(await a.list()).toContain(id);
        expect(await b.list()).not.toContain(id);
        await b.destroy(id); // what b's startup cleanup would do to an id it does not know
        expect(await a.pids(id)).toContain(child.pid);
        expect(child.exitCode).toBeNull();
        expect(child.signalCode).toBeNull();
      } finally {
        await a.destroy(id);
        child.kill('SIGKILL');
      }
      expect(await a.list()).not.toContain(id);
    });

    it('refuses a parent that walks out of the hierarchy', () => {
      expect(() => makeDriver('muelle/../../etc')).toThrow(/invalid cgroup parent/);
      expect(() => makeDriver('/abs')).toThrow(/invalid cgroup parent/);
    });
  });
}

const v1Controllers = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'devices'].map((c) => `/sys/fs/cgroup/${c}`);
if (v1Available) describeSeparateScopes('v1', (parent) => new CgroupV1Driver({ parent }), () => v1Controllers);
describeSeparateScopes('v2', (parent) => new CgroupV2Driver({ root: v2Root, parent }), () => [v2Root]);
