import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname as hostHostname, networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CgroupV1Driver, CommandNotFoundError, LinuxIsolationDriver, MountError, NamespaceError, PermissionDeniedError,
  type ContainerProcessSpec, type ExitStatus,
} from '../src';
import { collect, ensureHelperBuilt, makeBusyboxRootfs, removeDir, uniqueId, waitForOutput } from './support';

jest.setTimeout(30000);

const PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';
const DOCKER_CAP_EFF = '00000000a80425fb';

let rootfs: string;
let driver: LinuxIsolationDriver;
const cgroups = new CgroupV1Driver({ parent: 'muelle-itest' });
const cgroupIds: string[] = [];

beforeAll(() => {
  driver = new LinuxIsolationDriver({ helper: ensureHelperBuilt() });
  rootfs = makeBusyboxRootfs();
});

afterAll(async () => {
  for (const id of cgroupIds) await cgroups.destroy(id);
  expect((await cgroups.list()).filter((id) => cgroupIds.includes(id))).toEqual([]);
  // The per-suite parents are empty now; rmdir (never rm -rf) them.
  for (const dir of cgroups.paths('x')) rmdirSync(dirname(dir));
  removeDir(rootfs);
});

function spec(script: string, extra: Partial<ContainerProcessSpec> = {}): ContainerProcessSpec {
  return { rootfs, args: ['sh', '-c', script], env: [PATH], hostname: 'box', ...extra };
}

/** Runs a container to completion and returns its output and exit status. */
async function runToEnd(s: ContainerProcessSpec): Promise<{ stdout: string; stderr: string; status: ExitStatus }> {
  const c = await driver.run(s);
  const [stdout, stderr, status] = await Promise.all([collect(c.stdout), collect(c.stderr), c.wait()]);
  return { stdout, stderr, status };
}

function hostCanFork(): boolean {
  return execFileSync('sh', ['-c', 'echo ok']).toString() === 'ok\n';
}

async function newCgroup(limits: Parameters<CgroupV1Driver['create']>[1]): Promise<string> {
  const id = uniqueId('c');
  cgroupIds.push(id);
  await cgroups.create(id, limits);
  return id;
}

describe('namespaces', () => {
  it('shows only the container processes and PID 1 is its entrypoint', async () => {
    const hostSleeper = spawn('sleep', ['1234.5']);
    try {
      const { stdout, status } = await runToEnd(spec('echo "me=$$"; tr "\\0" " " < /proc/1/cmdline; echo; ps -o pid,args'));
      expect(status).toEqual({ exitCode: 0 });
      const lines = stdout.split('\n');
      expect(lines[0]).toBe('me=1');
      expect(lines[1]).toBe('sh -c echo "me=$$"; tr "\\0" " " < /proc/1/cmdline; echo; ps -o pid,args ');
      const pids = lines.slice(3).filter(Boolean).map((l) => Number(l.trim().split(/\s+/)[0]));
      expect(pids[0]).toBe(1);
      expect(pids.length).toBeLessThanOrEqual(2); // sh, ps
      expect(Math.max(...pids)).toBeLessThan(10);
      expect(stdout).not.toContain('1234.5');
      expect(stdout).not.toContain('muelle-isolate');
    } finally {
      hostSleeper.kill();
    }
  });

  it('with init: true, PID 1 is a minimal init named muelle-init (no host path) and the entrypoint is PID 2', async () => {
    const { stdout, status } = await runToEnd(spec('echo "me=$$"; tr "\\0" "|" < /proc/1/cmdline; echo', { init: true }));
    expect(status).toEqual({ exitCode: 0 });
    expect(stdout.split('\n')).toEqual(['me=2', 'muelle-init|', '']);
  });

  it('mounts an overlay root only inside the container: writes land in the upper dir, the lower dir and the host mount table stay untouched', async () => {
    const base = mkdtempSync(join(tmpdir(), 'overlay-root-'));
    const [upperDir, workDir, target] = ['upper', 'work', 'root'].map((d) => join(base, d));
    for (const d of [upperDir, workDir, target]) mkdirSync(d);
    try {
      const c = await driver.run({ rootfs: target, overlay: { lowerDirs: [rootfs], upperDir, workDir }, args: ['sh', '-c', 'echo hi > /etc/made-here; rm /bin/true; cat /etc/made-here; sleep 1'], env: [PATH], stdio: { stdout: 'pipe' } });
      const out = collect(c.stdout);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${target} `);
      expect(await c.wait()).toEqual({ exitCode: 0 });
      expect(await out).toBe('hi\n');
      expect(readFileSync(join(upperDir, 'etc', 'made-here'), 'utf8')).toBe('hi\n');
      expect(existsSync(join(rootfs, 'etc', 'made-here'))).toBe(false);
      expect(existsSync(join(rootfs, 'bin', 'true'))).toBe(true);
      expect(lstatSync(join(upperDir, 'bin', 'true')).isCharacterDevice()).toBe(true); // the overlay whiteout
    } finally {
      removeDir(base);
    }
  });

  it('hides host files and gives the container its own hostname', async () => {
    const secret = join(tmpdir(), uniqueId('host-secret'));
    writeFileSync(secret, 'x');
    try {
      const { stdout, status } = await runToEnd(spec(`hostname; test -e ${secret} && echo visible; test -e /work && echo work; ls /tmp | wc -l`, { hostname: 'c0ffee' }));
      expect(status.exitCode).toBe(0);
      expect(stdout.split('\n')).toEqual(['c0ffee', '0', '']);
      expect(hostHostname()).not.toBe('c0ffee');
    } finally {
      unlinkSync(secret);
    }
  });

  it('has only lo in a new network namespace, and the host interfaces with network=host', async () => {
    const isolated = await runToEnd(spec('ls /sys/class/net'));
    expect(isolated.stdout.trim().split(/\s+/)).toEqual(['lo']);
    const shared = await runToEnd(spec('ls /sys/class/net', { network: { mode: 'host' } }));
    const hostIfaces = Object.keys(networkInterfaces());
    for (const name of hostIfaces) expect(shared.stdout.split(/\s+/)).toContain(name);
  });

  it('calls beforeStart with the init pid, in fresh namespaces, before the workload runs', async () => {
    let hookPid = 0;
    const marker = join(rootfs, 'tmp', 'before-start');
    const c = await driver.run(
      spec('cat /tmp/before-start; sleep 5', {
        stdio: { stdout: 'pipe' },
        beforeStart: async (pid) => {
          hookPid = pid;
          // The workload has not run yet: what we write now is what it reads first. (The cgroup
          // namespace comes later, once the init sits in its cgroups; see the cgroup tests.)
          for (const ns of ['mnt', 'pid', 'uts', 'ipc', 'net']) {
            expect(readlinkSync(`/proc/${pid}/ns/${ns}`)).not.toBe(readlinkSync(`/proc/self/ns/${ns}`));
          }
          writeFileSync(marker, 'hook-ran\n');
        },
      }),
    );
    try {
      expect(c.pid).toBe(hookPid);
      await waitForOutput(c.stdout!, 'hook-ran');
    } finally {
      c.signal('SIGKILL');
      await c.wait();
      unlinkSync(marker);
    }
  });
});

describe('privileges and kernel interfaces', () => {
  it("has Docker's default capabilities, no inheritable/ambient caps and no_new_privs", async () => {
    const { stdout } = await runToEnd(spec('grep -E "^(Cap|NoNewPrivs)" /proc/self/status'));
    const fields = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
    expect(fields).toEqual({
      CapInh: '0000000000000000',
      CapPrm: DOCKER_CAP_EFF,
      CapEff: DOCKER_CAP_EFF,
      CapBnd: DOCKER_CAP_EFF,
      CapAmb: '0000000000000000',
      NoNewPrivs: '1',
    });
  });

  it('runs as the numeric user and group given, without effective caps', async () => {
    const { stdout } = await runToEnd(spec('id -u; id -g; id -G; grep CapEff /proc/self/status', { user: { uid: 65534, gid: 65534, additionalGids: [5] } }));
    expect(stdout.split('\n').slice(0, 4)).toEqual(['65534', '65534', '65534 5', 'CapEff:\t0000000000000000']);
  });

  it('makes /proc/sys read-only and masks sensitive /proc and /sys entries', async () => {
    const { stdout } = await runToEnd(
      spec(
        'echo 1 > /proc/sys/kernel/sysrq && echo sysrq-writable; ' +
          'wc -c < /proc/keys; wc -c < /proc/timer_list; ls /proc/acpi | wc -l; ls /sys/firmware | wc -l; ' +
          'if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo no-kcore; fi',
      ),
    );
    const lines = stdout.trim().split('\n');
    expect(stdout).not.toContain('sysrq-writable');
    expect(lines.slice(0, 4)).toEqual(['0', '0', '0', '0']);
    // This kernel has no /proc/kcore; where it exists it must read as empty.
    expect(lines[4]).toBe(existsSync('/proc/kcore') ? '0' : 'no-kcore');
    expect(readFileSync('/proc/timer_list', 'utf8').length).toBeGreaterThan(0);
  });

  it('cannot write to cgroupfs, mount a cgroup hierarchy or touch release_agent', async () => {
    const hostAgent = readFileSync('/sys/fs/cgroup/memory/release_agent', 'utf8');
    const isolated = await runToEnd(
      spec('mkdir /sys/fs/cgroup/x || echo mkdir-refused; ls /sys/fs/cgroup | wc -l; grep " /sys " /proc/self/mountinfo; mkdir -p /tmp/c; mount -t cgroup -o memory cgroup /tmp/c || echo mount-refused'),
    );
    expect(isolated.stdout).toContain('mkdir-refused');
    expect(isolated.stdout).toMatch(/^0$/m); // no cgroup hierarchy is visible at all
    expect(isolated.stdout).toMatch(/ \/sys ro,/);
    expect(isolated.stdout).toContain('mount-refused');
    // With the host network the host /sys is bind-mounted: its cgroupfs submounts must be read-only too.
    const shared = await runToEnd(
      spec('{ echo /x > /sys/fs/cgroup/memory/release_agent; echo 1 > /sys/fs/cgroup/pids/notify_on_release; } 2>&1', { network: { mode: 'host' } }),
    );
    expect(shared.stdout.match(/Read-only file system/g)).toHaveLength(2);
    expect(readFileSync('/sys/fs/cgroup/memory/release_agent', 'utf8')).toBe(hostAgent);
  });

  it('passes only stdio and exactly the given environment, cwd and rlimits', async () => {
    const { stdout } = await runToEnd({
      rootfs,
      args: ['sh', '-c', 'for fd in $(seq 3 64); do [ -e /proc/$$/fd/$fd ] && echo -n "$fd "; done; echo; env | sort | tr "\\n" " "; echo; pwd; ulimit -n'],
      env: [PATH, 'GREETING=hi there'],
      cwd: '/srv/app',
      rlimits: [{ type: 'NOFILE', soft: 321, hard: 321 }],
    });
    const [fds, env, cwd, nofile] = stdout.split('\n');
    expect(fds.trim()).toBe(''); // no descriptor above stderr survives into the workload
    expect(env).toContain('GREETING=hi there');
    expect(env).not.toContain('JEST');
    expect(cwd).toBe('/srv/app');
    expect(nofile).toBe('321');
  });
});

describe('mounts', () => {
  it('bind mounts host directories nosuid,nodev, read-only when asked', async () => {
    const hostDir = mkdtempSync(join(tmpdir(), 'muelle-vol-'));
    writeFileSync(join(hostDir, 'in.txt'), 'from-host');
    try {
      const { stdout } = await runToEnd(
        spec('cat /data/in.txt; echo; echo out > /data/out.txt; { echo x > /ro/x; } 2>&1; grep -E " /(data|ro) " /proc/self/mountinfo', {
          mounts: [
            { source: hostDir, target: '/data' },
            { source: hostDir, target: '/ro', readonly: true },
          ],
        }),
      );
      expect(stdout).toContain('from-host');
      expect(readFileSync(join(hostDir, 'out.txt'), 'utf8')).toBe('out\n');
      expect(stdout).toMatch(/Read-only file system/);
      const data = stdout.split('\n').find((l) => / \/data /.test(l)) ?? '';
      const ro = stdout.split('\n').find((l) => / \/ro /.test(l)) ?? '';
      expect(data).toMatch(/ rw,nosuid,nodev/);
      expect(ro).toMatch(/ ro,nosuid,nodev/);
    } finally {
      removeDir(hostDir);
    }
  });

  it('refuses a bind target that leaves the root', async () => {
    const hostDir = mkdtempSync(join(tmpdir(), 'muelle-vol-'));
    try {
      const err = await driver.run(spec('true', { mounts: [{ source: hostDir, target: '/../../../tmp/escaped' }] })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MountError);
      expect(err).toMatchObject({ stage: 'mount', errnoName: 'EXDEV', exitCode: 125 });
    } finally {
      removeDir(hostDir);
    }
  });

  it('resolves symlinks in bind targets inside the root, never on the host', async () => {
    const hostDir = mkdtempSync(join(tmpdir(), 'muelle-vol-'));
    const outside = mkdtempSync(join(tmpdir(), 'muelle-outside-'));
    const link = join(rootfs, 'evil');
    symlinkSync(outside, link); // absolute symlink: on the host it would point outside the root
    try {
      const { status } = await runToEnd(spec('test -d /evil/sub', { mounts: [{ source: hostDir, target: '/evil/sub' }] }));
      expect(status.exitCode).toBe(0);
      expect(existsSync(join(outside, 'sub'))).toBe(false);
      expect(existsSync(join(rootfs, outside, 'sub'))).toBe(true);
    } finally {
      unlinkSync(link);
      removeDir(join(rootfs, outside.split('/')[1]));
      removeDir(hostDir);
      removeDir(outside);
    }
  });

  it('refuses a /proc that is a symlink (CVE-2019-19921 class)', async () => {
    const other = makeBusyboxRootfs();
    try {
      removeDir(join(other, 'proc'));
      mkdirSync(join(other, 'fakeproc'));
      symlinkSync('/fakeproc', join(other, 'proc'));
      await expect(driver.run({ ...spec('true'), rootfs: other })).rejects.toThrow(MountError);
    } finally {
      removeDir(other);
    }
  });

  it('can make the root filesystem read-only', async () => {
    const { stdout } = await runToEnd(spec('touch /newfile 2>&1; touch /dev/shm/ok && echo shm-ok', { readonlyRootfs: true }));
    expect(stdout).toMatch(/Read-only file system/);
    expect(stdout).toContain('shm-ok');
  });
});

describe('process lifecycle', () => {
  it.each([
    [0, 'exit 0'],
    [3, 'exit 3'],
  ])('propagates exit code %i', async (code, script) => {
    expect((await runToEnd(spec(script))).status).toEqual({ exitCode: code });
  });

  it('rejects a missing command with CommandNotFoundError (127)', async () => {
    const err = await driver.run({ rootfs, args: ['no-such-command'], env: [PATH] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandNotFoundError);
    expect(err).toMatchObject({ stage: 'exec', errnoName: 'ENOENT', exitCode: 127 });
  });

  it('rejects a non-executable command with PermissionDeniedError (126)', async () => {
    const err = await driver.run({ rootfs, args: ['/etc/passwd'], env: [PATH] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect(err).toMatchObject({ stage: 'exec', errnoName: 'EACCES', exitCode: 126 });
  });

  it('forwards SIGTERM to the entrypoint and reports its exit', async () => {
    const c = await driver.run(spec('trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done'));
    const out = collect(c.stdout);
    await waitForOutput(c.stdout!, 'ready');
    c.signal('SIGTERM');
    expect(await c.wait()).toEqual({ exitCode: 42 });
    expect(await out).toContain('got-term');
  });

  it('reports death by signal as 128+n with the signal name', async () => {
    const c = await driver.run(spec('echo ready; sleep 30'));
    await waitForOutput(c.stdout!, 'ready');
    c.signal('SIGKILL');
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    const t = await driver.run(spec('echo ready; exec sleep 30', { init: true }));
    await waitForOutput(t.stdout!, 'ready');
    t.signal('SIGTERM');
    expect(await t.wait()).toEqual({ exitCode: 143, signal: 'SIGTERM' });
  });

  it('like docker, a PID 1 entrypoint without a SIGTERM handler ignores SIGTERM (init: true does not)', async () => {
    const c = await driver.run(spec('echo ready; exec sleep 30'));
    await waitForOutput(c.stdout!, 'ready');
    c.signal('SIGTERM');
    const early = await Promise.race([c.wait(), new Promise((r) => setTimeout(() => r('still running'), 700))]);
    expect(early).toBe('still running');
    c.signal('SIGKILL');
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('with init: true reaps orphaned zombies', async () => {
    // Each subshell exits at once, orphaning its `true` children onto PID 1.
    const { stdout } = await runToEnd(spec('for i in 1 2 3 4 5; do (true & true &); done; sleep 0.5; cat /proc/[0-9]*/stat | cut -d" " -f3 | sort | uniq -c', { init: true }));
    expect(stdout).not.toMatch(/\bZ\b/);
  });
});

describe('cgroup limits on containers (v1)', () => {
  it('places the container in its cgroups before it runs', async () => {
    const id = await newCgroup({});
    const { stdout } = await runToEnd(spec('cat /proc/self/cgroup', { cgroupPaths: cgroups.paths(id) }));
    // The cgroup namespace makes the container's own cgroup its root.
    expect(stdout).toMatch(/:memory:\/$/m);
    expect(stdout).toMatch(/:pids:\/$/m);
  });

  it('OOM-kills a memory hog past its limit and the driver reports it', async () => {
    const id = await newCgroup({ memoryBytes: 32 << 20 });
    const { status } = await runToEnd({ rootfs, args: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=128M', 'count=1'], env: [PATH], cgroupPaths: cgroups.paths(id) });
    expect(status).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    expect(await cgroups.oomKilled(id)).toBe(true);
    expect((await cgroups.stats(id)).oomKillCount).toBeGreaterThanOrEqual(1);
  });

  it('stops a fork bomb at the pids limit', async () => {
    const id = await newCgroup({ pidsMax: 20 });
    // A subshell forks until the kernel refuses; then the entrypoint replaces itself (no fork).
    const c = await driver.run(
      spec('(i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done); echo forked; exec sleep 30', { cgroupPaths: cgroups.paths(id) }),
    );
    const stderr = collect(c.stderr);
    await waitForOutput(c.stdout!, 'forked');
    const stats = await cgroups.stats(id);
    expect(stats.pidsLimit).toBe(20);
    // init + entrypoint + 17 sleeps remain once the subshell (the 20th task) gave up.
    expect(stats.pidsCurrent).toBe(19);
    expect(hostCanFork()).toBe(true);
    await cgroups.destroy(id);
    expect(await c.wait()).toMatchObject({ signal: 'SIGKILL' });
    expect(await stderr).toMatch(/can't fork/);
  });

  it('throttles a CPU hog with a quota', async () => {
    const id = await newCgroup({ cpuQuota: { quotaUs: 20_000, periodUs: 100_000 } });
    const c = await driver.run(spec('while :; do :; done', { cgroupPaths: cgroups.paths(id) }));
    await new Promise((r) => setTimeout(r, 1000));
    const stats = await cgroups.stats(id);
    c.signal('SIGKILL');
    await c.wait();
    expect(stats.cpuThrottledPeriods).toBeGreaterThan(0);
    expect(stats.cpuUsageNs).toBeLessThan(600_000_000);
  });

  it('destroy leaves no cgroup behind after a container ran in it', async () => {
    const id = await newCgroup({ pidsMax: 50 });
    const c = await driver.run(spec('sleep 30 & sleep 30', { cgroupPaths: cgroups.paths(id) }));
    await cgroups.destroy(id);
    await c.wait();
    for (const p of cgroups.paths(id)) expect(existsSync(p)).toBe(false);
  });
});

describe('exec', () => {
  it('joins a running container: same processes, hostname, cgroup and exit code', async () => {
    const id = await newCgroup({ pidsMax: 50 });
    const c = await driver.run(spec('echo ready; sleep 30', { hostname: 'target', cgroupPaths: cgroups.paths(id) }));
    try {
      await waitForOutput(c.stdout!, 'ready');
      const e = await driver.exec(c.pid, { args: ['sh', '-c', 'hostname; ps -o args; ls /sys/class/net; exit 5'], env: [PATH], cgroupPaths: cgroups.paths(id) });
      const [out, status] = await Promise.all([collect(e.stdout), e.wait()]);
      expect(status).toEqual({ exitCode: 5 });
      expect(out.split('\n')[0]).toBe('target');
      // The container's own processes only: its entrypoint (PID 1; sh exec'd its last command), the exec'd shell, ps.
      expect(out.split('\n').slice(1, 4)).toEqual(['COMMAND', 'sleep 30', 'sh -c hostname; ps -o args; ls /sys/class/net; exit 5']);
      expect(out).not.toContain('muelle-isolate');
      expect(out.trim().split('\n').pop()).toBe('lo');
      expect(e.pid).toBeGreaterThan(0);

      const asNobody = await driver.exec(c.pid, { args: ['sh', '-c', 'id -u; grep -E "CapEff|NoNewPrivs" /proc/self/status'], env: [PATH], user: { uid: 65534, gid: 65534 } });
      expect((await collect(asNobody.stdout)).split('\n').slice(0, 3)).toEqual(['65534', 'CapEff:\t0000000000000000', 'NoNewPrivs:\t1']);

      await expect(driver.exec(c.pid, { args: ['nope'], env: [PATH] })).rejects.toThrow(CommandNotFoundError);
    } finally {
      c.signal('SIGKILL');
      await c.wait();
    }
  });

  it('fails with NamespaceError when the container is gone', async () => {
    const c = await driver.run(spec('true'));
    await c.wait();
    await expect(driver.exec(c.pid, { args: ['true'] })).rejects.toThrow(NamespaceError);
  });
});

describe('tty', () => {
  it('runs an interactive shell on a pty: /dev/pts/0, output and exit code', async () => {
    const c = await driver.run({ ...spec(''), args: ['sh'], tty: true, terminalSize: { rows: 30, cols: 100 }, stdio: { stdin: 'pipe' } });
    expect(c.stderr).toBeNull();
    const out = collect(c.stdout);
    c.stdin!.write('tty; stty size; echo hi; exit 3\n');
    expect(await c.wait()).toEqual({ exitCode: 3 });
    const text = await out;
    expect(text).toMatch(/\/dev\/pts\/0\r\n/);
    expect(text).toMatch(/30 100\r\n/);
    expect(text).toMatch(/\r\nhi\r\n/);
  });

  it('applies window resizes and supports exec with a pty', async () => {
    const c = await driver.run({ ...spec(''), args: ['sh'], tty: true, stdio: { stdin: 'pipe' } });
    try {
      c.resize(40, 120);
      await new Promise((r) => setTimeout(r, 100));
      c.stdin!.write('stty size\n');
      await waitForOutput(c.stdout!, '40 120');
      const e = await driver.exec(c.pid, { args: ['sh', '-c', 'tty; echo done'], env: [PATH], tty: true });
      const text = await collect(e.stdout);
      expect(await e.wait()).toEqual({ exitCode: 0 });
      expect(text).toMatch(/\/dev\/pts\/1\r\ndone/);
    } finally {
      c.signal('SIGKILL');
      await c.wait();
    }
  });
});
