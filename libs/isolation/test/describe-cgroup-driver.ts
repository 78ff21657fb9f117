import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupControllerUnavailableError, CgroupError, type CgroupDriver } from '../src';
import { uniqueId } from './support';

/** Which controllers the hierarchy under test really offers; the rest is asserted to fail loudly. */
export interface CgroupCoverage {
  memory: boolean;
  cpu: boolean;
  pids: boolean;
}

function spawnInto(driver: CgroupDriver, id: string, script: string): ChildProcess {
  // `read` (a shell builtin, no fork) holds the script until the shell sits in the cgroup.
  const child = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  // The same thing the helper does for a container: pid into every cgroup.procs.
  for (const dir of driver.paths(id)) writeFileSync(join(dir, 'cgroup.procs'), String(child.pid));
  child.stdin?.end('go\n');
  return child;
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode ?? child.exitCode);
    else child.on('exit', (code, signal) => resolve(signal ?? code));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One behavioural suite for every CgroupDriver (distribution's testsuites pattern). */
export function describeCgroupDriver(name: string, makeDriver: () => CgroupDriver, coverage: () => CgroupCoverage): void {
  describe(`CgroupDriver contract: ${name}`, () => {
    let driver: CgroupDriver;
    const created: string[] = [];
    const children: ChildProcess[] = [];

    const newId = () => {
      const id = uniqueId('t');
      created.push(id);
      return id;
    };

    beforeAll(() => {
      driver = makeDriver();
      const c = coverage();
      console.info(`[${name}] controllers covered: memory=${c.memory} cpu=${c.cpu} pids=${c.pids}; unavailable ones are asserted to throw CgroupControllerUnavailableError`);
    });

    afterEach(() => {
      for (const child of children.splice(0)) child.kill('SIGKILL');
    });

    afterAll(async () => {
      for (const id of created) await driver.destroy(id);
      const left = await driver.list();
      expect(left.filter((id) => created.includes(id))).toEqual([]);
    });

    it('creates directories the helper can join, lists them, and removes them on destroy', async () => {
      const id = newId();
      await driver.create(id);
      const paths = driver.paths(id);
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) expect(existsSync(join(p, 'cgroup.procs'))).toBe(true);
      expect(await driver.list()).toContain(id);
      await driver.destroy(id);
      for (const p of paths) expect(existsSync(p)).toBe(false);
      expect(await driver.list()).not.toContain(id);
    });

    it('refuses a second create of the same id and invalid ids', async () => {
      const id = newId();
      await driver.create(id);
      await expect(driver.create(id)).rejects.toThrow(CgroupError);
      await expect(driver.create('../escape')).rejects.toThrow(/invalid cgroup id/);
    });

    it('destroy of an unknown id is a no-op', async () => {
      await expect(driver.destroy(uniqueId('never'))).resolves.toBeUndefined();
    });

    it('counts the processes and CPU time of members', async () => {
      const id = newId();
      await driver.create(id);
      const busy = spawnInto(driver, id, 'end=$(($(date +%s) + 3)); while [ $(date +%s) -lt $end ]; do :; done; sleep 30');
      children.push(busy);
      // Poll rather than sleep a fixed time: on a loaded 2-core machine the busy loop gets less CPU.
      let stats = await driver.stats(id);
      for (const deadline = Date.now() + 10_000; stats.cpuUsageNs <= 50_000_000 && Date.now() < deadline; stats = await driver.stats(id)) await sleep(100);
      expect(await driver.pids(id)).toContain(busy.pid);
      expect(stats.cpuUsageNs).toBeGreaterThan(50_000_000);
      if (coverage().pids) expect(stats.pidsCurrent).toBeGreaterThanOrEqual(1);
      else expect(stats.pidsCurrent).toBeNull();
      if (coverage().memory) expect(stats.memoryUsageBytes).toBeGreaterThan(0);
      else expect(stats.memoryUsageBytes).toBeNull();
      expect(stats.oomKillCount).toBe(0);
      expect(await driver.oomKilled(id)).toBe(false);
    });

    it('destroy kills every remaining member and removes the cgroup', async () => {
      const id = newId();
      await driver.create(id);
      const a = spawnInto(driver, id, 'sleep 60');
      const b = spawnInto(driver, id, 'sh -c "sleep 60 & sleep 60"');
      await sleep(100);
      expect((await driver.pids(id)).length).toBeGreaterThanOrEqual(2);
      await driver.destroy(id);
      expect(await exited(a)).toBe('SIGKILL');
      expect(await exited(b)).toBe('SIGKILL');
      for (const p of driver.paths(id)) expect(existsSync(p)).toBe(false);
    });

    it('applies a memory limit (or reports the controller missing)', async () => {
      const id = newId();
      if (!coverage().memory) {
        await expect(driver.create(id, { memoryBytes: 64 << 20 })).rejects.toThrow(CgroupControllerUnavailableError);
        expect(await driver.list()).not.toContain(id);
        return;
      }
      await driver.create(id, { memoryBytes: 64 << 20 });
      expect((await driver.stats(id)).memoryLimitBytes).toBe(64 << 20);
      await driver.update(id, { memoryBytes: 32 << 20 });
      expect((await driver.stats(id)).memoryLimitBytes).toBe(32 << 20);
    });

    it('applies a pids limit that stops forks (or reports the controller missing)', async () => {
      const id = newId();
      if (!coverage().pids) {
        await expect(driver.create(id, { pidsMax: 8 })).rejects.toThrow(CgroupControllerUnavailableError);
        return;
      }
      await driver.create(id, { pidsMax: 3 });
      expect((await driver.stats(id)).pidsLimit).toBe(3);
      // The shell plus two sleeps fill the limit; the third fork fails and the shell gives up.
      const forker = spawnInto(driver, id, 'for i in 1 2 3 4 5 6; do sleep 30 & done; sleep 30');
      children.push(forker);
      expect(await exited(forker)).not.toBe(0);
      expect((await driver.pids(id)).length).toBe(2);
      expect((await driver.stats(id)).pidsCurrent).toBe(2);
    });

    it('throttles with a CPU quota (or reports the controller missing)', async () => {
      const id = newId();
      const quota = { quotaUs: 10_000, periodUs: 100_000 };
      if (!coverage().cpu) {
        await expect(driver.create(id, { cpuQuota: quota })).rejects.toThrow(CgroupControllerUnavailableError);
        await expect(driver.create(id, { cpuShares: 512 })).rejects.toThrow(CgroupControllerUnavailableError);
        return;
      }
      await driver.create(id, { cpuQuota: quota, cpuShares: 512 });
      const spinner = spawnInto(driver, id, 'while :; do :; done');
      children.push(spinner);
      const before = (await driver.stats(id)).cpuUsageNs;
      await sleep(1000);
      const stats = await driver.stats(id);
      expect(stats.cpuThrottledPeriods).toBeGreaterThan(0);
      // 10% of one CPU over ~1 s, with generous slack for scheduling noise.
      expect(stats.cpuUsageNs - before).toBeLessThan(400_000_000);
    });
  });
}
