import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CgroupV1Driver, CgroupV2Driver, defaultSeccompProfile, effectiveCapabilities, hostArchitecture, LinuxIsolationDriver,
  seccompSpecLines, DOCKER_DEFAULT_CAPABILITIES, encodeRunSpec, type CgroupDriver, type ContainerProcessSpec, type ExitStatus,
} from '../src';
import { collect, ensureHelperBuilt, makeBusyboxRootfs, removeDir, uniqueId } from './support';

// Run as root under `flock /tmp/muelle-kernel.lock`: real namespaces, cgroups and BPF programs.
jest.setTimeout(30000);

const PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';
const PROBE_SOURCE = join(__dirname, 'fixtures', 'syscall-probe.c');
const UNIFIED = '/sys/fs/cgroup/unified';

let helper: string;
let driver: LinuxIsolationDriver;
let rootfs: string;
const v1 = new CgroupV1Driver({ parent: 'muelle-sctest' });
const v2 = new CgroupV2Driver({ root: UNIFIED, parent: 'muelle-sctest' });
const created: Array<[CgroupDriver, string]> = [];

beforeAll(() => {
  helper = ensureHelperBuilt();
  driver = new LinuxIsolationDriver({ helper });
  rootfs = makeBusyboxRootfs();
  execFileSync('gcc', ['-static', '-O2', '-o', join(rootfs, 'usr', 'bin', 'syscall-probe'), PROBE_SOURCE]);
  writeFileSync(join(rootfs, 'index.html'), 'served\n');
});

afterAll(async () => {
  for (const [cg, id] of created) await cg.destroy(id);
  for (const dir of [...v1.paths('x'), ...v2.paths('x')]) {
    try {
      rmdirSync(dirname(dir));
    } catch {
      // never created (e.g. the v2 tests did not run); rmdir only ever removes empty parents
    }
  }
  removeDir(rootfs);
});

function spec(script: string, extra: Partial<ContainerProcessSpec> = {}): ContainerProcessSpec {
  return { rootfs, args: ['sh', '-c', script], env: [PATH], ...extra };
}

async function run(s: ContainerProcessSpec): Promise<{ out: string; status: ExitStatus }> {
  const c = await driver.run({ ...s, stdio: { stdout: 'pipe', stderr: 'pipe' } });
  const [stdout, stderr, status] = await Promise.all([collect(c.stdout), collect(c.stderr), c.wait()]);
  return { out: stdout + stderr, status };
}

function probeResults(out: string): Record<string, string> {
  return Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=') as [string, string]));
}

async function newCgroup(cg: CgroupDriver): Promise<string> {
  const id = uniqueId('sc');
  created.push([cg, id]);
  await cg.create(id);
  return id;
}

describe('seccomp profile against libseccomp', () => {
  it('every syscall name of the profile is known to libseccomp, and the filter stays small', () => {
    const lines = seccompSpecLines(defaultSeccompProfile(), effectiveCapabilities(['ALL']), hostArchitecture());
    const out = execFileSync(helper, ['seccomp-check'], { input: ['arg=true', ...lines, ''].join('\n') }).toString();
    // Names newer than Debian 12's libseccomp 2.5.4 are skipped, like runc does; nothing else may be unknown.
    const unknown = out.split('\n').filter((l) => l.startsWith('unknown ')).map((l) => l.slice(8));
    expect(unknown.filter((n) => !['set_mempolicy_home_node', 'memfd_secret', 'futex_waitv', 'process_mrelease', 'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self', 'quotactl_fd', 'epoll_pwait2', 'cachestat'].includes(n))).toEqual([]);
    const size = Number(/instructions (\d+)/.exec(out)?.[1]);
    expect(size).toBeGreaterThan(100);
    expect(size).toBeLessThan(4096); // the kernel's BPF_MAXINSNS
  });
});

describe('seccomp inside a container and an exec', () => {
  it('the helper also compiles the rule lines itself when no precompiled program is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'muelle-spec-'));
    try {
      const specFile = join(dir, 'spec');
      writeFileSync(specFile, encodeRunSpec({ rootfs, args: ['grep', '^Seccomp:', '/proc/self/status'], env: [PATH] }));
      expect(readFileSync(specFile, 'utf8')).toContain('seccomp_rule=allow ');
      const out = execFileSync(helper, ['run', '--spec', specFile, '--status-fd', '2'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      expect(out).toMatch(/^Seccomp:\s+2$/m);
    } finally {
      removeDir(dir);
    }
  });

  it('reports a filter (Seccomp: 2) and refuses what Docker refuses with EPERM', async () => {
    const { out, status } = await run(spec('grep ^Seccomp: /proc/self/status; syscall-probe'));
    expect(status).toEqual({ exitCode: 0 });
    expect(out).toMatch(/^Seccomp:\s+2$/m);
    const r = probeResults(out);
    for (const name of ['keyctl', 'unshare_user', 'unshare_net', 'mount', 'bpf', 'kexec_load', 'open_by_handle_at', 'personality_no_aslr', 'vsock']) {
      expect([name, r[name]]).toEqual([name, 'EPERM']);
    }
    expect(r.clone3).toBe('ENOSYS');
    if (process.arch === 'x64' && r.i386_getpid === 'no-abi') {
      // A kernel without IA32 emulation faults every int $0x80 before any filter runs: no i386 ABI to cover.
      expect(r.i386_keyctl).toBe('no-abi');
    } else if (process.arch === 'x64') {
      // The i386 ABI is in the filter (x86 sub-architecture), with its own syscall numbers.
      expect(r.i386_keyctl).toBe('EPERM');
      expect(r.i386_getpid).toBe('ok');
    }
    for (const name of ['personality_query', 'unshare_files', 'file', 'fork', 'raw_socket', 'tcp_socket']) expect([name, r[name]]).toEqual([name, 'ok']);
  });

  it('refuses `unshare -U -r id`, while busybox httpd serves and ping opens its raw socket', async () => {
    const { out } = await run(spec('unshare -U -r id; echo "unshare=$?"; httpd -p 127.0.0.1:8080 -h /; wget -qO- http://127.0.0.1:8080/index.html; ping -c1 -W1 127.0.0.1 >/dev/null; echo "ping=$?"'));
    expect(out).toMatch(/unshare: unshare\(0x10000000\): Operation not permitted/);
    expect(out).toContain('unshare=1');
    expect(out).toContain('served');
    expect(out).toContain('ping=0');
  });

  it('applies the same filter to an exec into the container', async () => {
    const c = await driver.run(spec('sleep 30'));
    try {
      const p = await driver.exec(c.pid, { args: ['sh', '-c', 'grep ^Seccomp: /proc/self/status; syscall-probe'], env: [PATH] });
      const [stdout] = await Promise.all([collect(p.stdout), p.wait()]);
      expect(stdout).toMatch(/^Seccomp:\s+2$/m);
      expect(probeResults(stdout).unshare_user).toBe('EPERM');
      expect(probeResults(stdout).keyctl).toBe('EPERM');
    } finally {
      c.signal('SIGKILL');
      await c.wait();
    }
  });

  it('with init: true the init (PID 1) has the filter too', async () => {
    const { out } = await run(spec('grep ^Seccomp: /proc/1/status /proc/self/status', { init: true }));
    expect(out).toMatch(/^\/proc\/1\/status:Seccomp:\s+2$/m);
    expect(out).toMatch(/^\/proc\/self\/status:Seccomp:\s+2$/m);
  });

  it('seccomp: unconfined loads no filter (the probe then reaches the kernel)', async () => {
    const { out } = await run(spec('grep ^Seccomp: /proc/self/status; syscall-probe', { seccomp: 'unconfined' }));
    expect(out).toMatch(/^Seccomp:\s+0$/m);
    const r = probeResults(out);
    expect(r.keyctl).toBe('ok');
    expect(r.bpf).toBe('EINVAL');
  });

  it('loads the filter while it may without no_new_privs', async () => {
    const { out } = await run(spec('grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; syscall-probe', { noNewPrivileges: false }));
    expect(out).toMatch(/^NoNewPrivs:\s+0$/m);
    expect(out).toMatch(/^Seccomp:\s+2$/m);
    expect(probeResults(out).keyctl).toBe('EPERM');
  });

  it('grants the CAP_SYS_ADMIN syscalls with the capability, as Docker does', async () => {
    const { out } = await run(spec('syscall-probe', { capabilities: [...DOCKER_DEFAULT_CAPABILITIES, 'SYS_ADMIN'] }));
    expect(probeResults(out).unshare_net).toBe('ok');
    expect(probeResults(out).keyctl).toBe('EPERM');
  });
});

/** `mknod` works for any node, but only the standard ones open: a host disk does not. */
function describeDevicePolicy(name: string, cg: () => CgroupDriver, available: () => boolean): void {
  const script = 'mknod /dev/l0 b 7 0 && echo mknod=ok; dd if=/dev/l0 of=/dev/null bs=512 count=1; echo "dd=$?"; head -c1 /dev/zero | wc -c; echo x > /dev/null && echo null=ok';
  it(`${name}: mknod of a host block device succeeds, opening it fails with EPERM; standard nodes work`, async () => {
    if (!available()) return console.warn(`${name}: not available on this host, skipped`);
    const id = await newCgroup(cg());
    const { out } = await run(spec(script, { cgroupPaths: cg().paths(id) }));
    expect(out).toContain('mknod=ok');
    expect(out).toMatch(/dd: can't open '\/dev\/l0': Operation not permitted/);
    expect(out).toContain('dd=1');
    expect(out).toMatch(/^1$/m);
    expect(out).toContain('null=ok');
  });
}

describe('device policy', () => {
  it('without a cgroup (no policy) the same node opens: the checks below can fail', async () => {
    const { out } = await run(spec('mknod /dev/l0 b 7 0; dd if=/dev/l0 of=/dev/null bs=512 count=1; echo "dd=$?"'));
    expect(out).not.toContain('Operation not permitted');
  });
  describeDevicePolicy('cgroup v1 devices controller', () => v1, () => true);
  describeDevicePolicy('cgroup v2 eBPF device program', () => v2, () => {
    try {
      return readFileSync(join(UNIFIED, 'cgroup.procs'), 'utf8') !== undefined;
    } catch {
      return false; // no unified hierarchy mounted here
    }
  });
});

describe('container security options (kernel side)', () => {
  it('read-only root refuses writes while a volume, /tmp-less /dev/shm and /dev accept them', async () => {
    const volume = mkdtempSync(join(tmpdir(), 'muelle-vol-'));
    try {
      const { out } = await run(spec('touch /x; echo "root=$?"; touch /data/x; echo "vol=$?"; touch /dev/shm/x; echo "shm=$?"', {
        readonlyRootfs: true, mounts: [{ source: volume, target: '/data' }],
      }));
      expect(out).toMatch(/touch: \/x: Read-only file system/);
      expect(out).toContain('root=1');
      expect(out).toContain('vol=0');
      expect(out).toContain('shm=0');
    } finally {
      removeDir(volume);
    }
  });

  it('--cap-drop ALL: root cannot chown; the seccomp rules follow the (empty) set', async () => {
    const { out } = await run(spec('echo > /tmp/f; chown 1 /tmp/f; echo "chown=$?"; grep ^CapEff /proc/self/status', { capabilities: effectiveCapabilities([], ['ALL']) }));
    expect(out).toContain('chown=1');
    expect(out).toMatch(/CapEff:\s+0000000000000000/);
  });

  it('--ulimit nofile=64 is what `ulimit -n` shows', async () => {
    const { out } = await run(spec('ulimit -n', { rlimits: [{ type: 'NOFILE', soft: 64, hard: 64 }] }));
    expect(out.trim()).toBe('64');
  });
});
