import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupV1Driver, CgroupV2Driver, detectCgroupDriver, detectCgroupMode } from '../src';
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
  for (const controller of ['memory', 'cpu', 'cpuacct', 'pids', 'freezer']) rmdirQuietly(`/sys/fs/cgroup/${controller}/muelle-test`);
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
