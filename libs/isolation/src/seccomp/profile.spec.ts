import { effectiveCapabilities } from '../capabilities';
import { InvalidSpecError } from '../errors';
import { DOCKER_DEFAULT_CAPABILITIES, encodeExecSpec, encodeRunSpec } from '../spec';
import defaultProfileJson from './default-profile.json';
import { defaultSeccompProfile, hostArchitecture, parseSeccompProfile, seccompSpecLines, type SeccompProfile } from './profile';

const NAMESPACE_FLAGS = 0x7e020000; // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

function rulesFor(lines: string[], syscall: string): string[] {
  return lines.filter((l) => l.startsWith('seccomp_rule=') && l.split(' ')[1]?.split(',').includes(syscall));
}

describe('default seccomp profile', () => {
  const profile = defaultSeccompProfile();

  it('validates and denies with EPERM by default', () => {
    expect(() => parseSeccompProfile(defaultProfileJson)).not.toThrow();
    expect(profile.defaultAction).toEqual({ action: 'errno', errno: 'EPERM' });
  });

  it('checks the architecture like Docker: x86_64 with the i386 and x32 ABIs, arm64 with arm', () => {
    expect(profile.architectures.x86_64).toEqual(['x86_64', 'x86', 'x32']);
    const lines = seccompSpecLines(profile, DOCKER_DEFAULT_CAPABILITIES, 'x86_64');
    expect(lines.filter((l) => l.startsWith('seccomp_arch='))).toEqual(['seccomp_arch=x86', 'seccomp_arch=x32']);
    expect(rulesFor(lines, 'arch_prctl')).toHaveLength(1);
    expect(rulesFor(seccompSpecLines(profile, DOCKER_DEFAULT_CAPABILITIES, 'aarch64'), 'arch_prctl')).toHaveLength(0);
  });

  it('never lists a syscall twice in the unconditional allow list', () => {
    const unconditional = profile.rules.filter((r) => r.action === 'allow' && !r.args && !r.ifCapability && !r.unlessCapability && !r.onlyArchitectures);
    const names = unconditional.flatMap((r) => r.syscalls);
    expect(new Set(names).size).toBe(names.length);
    for (const blocked of ['keyctl', 'add_key', 'request_key', 'kexec_load', 'open_by_handle_at', 'mount', 'bpf', 'unshare', 'setns', 'clone', 'clone3', 'userfaultfd', 'personality', 'socket']) {
      expect(names).not.toContain(blocked);
    }
  });

  it('allows clone only without namespace flags, and clone3 answers ENOSYS, unless CAP_SYS_ADMIN', () => {
    const lines = seccompSpecLines(profile, DOCKER_DEFAULT_CAPABILITIES, 'x86_64');
    expect(rulesFor(lines, 'clone')).toEqual([`seccomp_rule=allow clone 0:masked_eq:${NAMESPACE_FLAGS}:0`]);
    expect(rulesFor(lines, 'clone3')).toEqual(['seccomp_rule=errno:38 clone3']);
    expect(rulesFor(lines, 'unshare')).toEqual([`seccomp_rule=allow unshare 0:masked_eq:${NAMESPACE_FLAGS | 0x80}:0`]);
    expect(rulesFor(lines, 'setns')).toEqual([]);
    const admin = seccompSpecLines(profile, [...DOCKER_DEFAULT_CAPABILITIES, 'SYS_ADMIN'], 'x86_64');
    expect(rulesFor(admin, 'clone').every((l) => !l.includes('masked_eq'))).toBe(true);
    expect(rulesFor(admin, 'clone3').every((l) => l.startsWith('seccomp_rule=allow '))).toBe(true);
    for (const name of ['mount', 'setns', 'unshare', 'bpf', 'umount2']) expect(rulesFor(admin, name).length).toBeGreaterThan(0);
  });

  it('allows only the harmless personality values', () => {
    const lines = seccompSpecLines(profile, DOCKER_DEFAULT_CAPABILITIES, 'x86_64');
    expect(rulesFor(lines, 'personality').map((l) => l.split(' ')[2])).toEqual(['0:eq:0', '0:eq:8', '0:eq:131072', '0:eq:131080', '0:eq:4294967295']);
  });

  it('refuses AF_VSOCK sockets', () => {
    expect(rulesFor(seccompSpecLines(profile, [], 'x86_64'), 'socket')).toEqual(['seccomp_rule=allow socket 0:ne:40']);
  });

  it('adds syscalls per capability only when the capability is granted', () => {
    const cases: Array<[string, string]> = [
      ['SYS_MODULE', 'init_module'], ['SYS_PTRACE', 'kcmp'], ['SYS_TIME', 'settimeofday'], ['SYS_BOOT', 'reboot'],
      ['DAC_READ_SEARCH', 'open_by_handle_at'], ['SYS_RAWIO', 'iopl'], ['SYSLOG', 'syslog'], ['BPF', 'bpf'], ['PERFMON', 'perf_event_open'],
    ];
    const base = seccompSpecLines(profile, DOCKER_DEFAULT_CAPABILITIES, 'x86_64');
    for (const [cap, syscall] of cases) {
      expect(rulesFor(base, syscall)).toEqual([]);
      expect(rulesFor(seccompSpecLines(profile, [...DOCKER_DEFAULT_CAPABILITIES, cap as 'BPF'], 'x86_64'), syscall)).not.toEqual([]);
    }
    // CAP_SYS_CHROOT is in Docker's default set, so chroot is allowed by default and gone with --cap-drop.
    expect(rulesFor(base, 'chroot')).not.toEqual([]);
    expect(rulesFor(seccompSpecLines(profile, effectiveCapabilities([], ['SYS_CHROOT']), 'x86_64'), 'chroot')).toEqual([]);
  });
});

describe('profile validation', () => {
  const valid = (): SeccompProfile => JSON.parse(JSON.stringify(defaultProfileJson)) as SeccompProfile;

  it('names what is wrong', () => {
    const bad = valid() as unknown as { rules: Array<Record<string, unknown>> };
    bad.rules[0]!.action = 'trap';
    expect(() => parseSeccompProfile(bad)).toThrow(/rules\.0\.action/);
    const noErrno = valid() as unknown as { rules: Array<Record<string, unknown>> };
    noErrno.rules[0]!.action = 'errno';
    expect(() => parseSeccompProfile(noErrno)).toThrow(/errno is required/);
    const badName = valid();
    badName.rules[0]!.syscalls = ['read; rm -rf'];
    expect(() => parseSeccompProfile(badName)).toThrow(InvalidSpecError);
    const badErrno = valid();
    badErrno.defaultAction = { action: 'errno', errno: 'ENOTANERRNO' };
    expect(() => parseSeccompProfile(badErrno)).toThrow(/errno name/);
    expect(() => parseSeccompProfile({ ...valid(), extra: 1 })).toThrow(InvalidSpecError);
  });

  it('knows only the architectures it has ABIs for', () => {
    expect(hostArchitecture('x64')).toBe('x86_64');
    expect(hostArchitecture('arm64')).toBe('aarch64');
    expect(() => hostArchitecture('ppc64')).toThrow(/ppc64/);
  });
});

describe('seccomp in the helper spec', () => {
  it('is on by default for runs and execs, with the rules of the granted capabilities', () => {
    const run = encodeRunSpec({ rootfs: '/r', args: ['sh'] });
    expect(run).toContain('seccomp_default=errno:1\n');
    expect(run).not.toContain(' mount');
    const exec = encodeExecSpec(7, { args: ['sh'], capabilities: ['SYS_ADMIN'] });
    expect(exec).toMatch(/seccomp_rule=allow [a-z_,0-9]*\bmount\b/);
  });

  it('is absent when unconfined', () => {
    expect(encodeRunSpec({ rootfs: '/r', args: ['sh'], seccomp: 'unconfined' })).not.toContain('seccomp');
  });
});

describe('effectiveCapabilities', () => {
  it('follows Docker: defaults minus drops plus adds; ALL on either side', () => {
    expect(effectiveCapabilities()).toEqual([...DOCKER_DEFAULT_CAPABILITIES]);
    expect(effectiveCapabilities(['NET_ADMIN'], ['NET_RAW', 'CAP_CHOWN'])).toEqual([
      ...DOCKER_DEFAULT_CAPABILITIES.filter((c) => c !== 'NET_RAW' && c !== 'CHOWN'), 'NET_ADMIN',
    ]);
    expect(effectiveCapabilities([], ['ALL'])).toEqual([]);
    expect(effectiveCapabilities(['chown'], ['ALL'])).toEqual(['CHOWN']);
    const all = effectiveCapabilities(['ALL'], ['SYS_ADMIN']);
    expect(all).toContain('SYS_MODULE');
    expect(all).not.toContain('SYS_ADMIN');
  });

  it('refuses unknown names', () => {
    expect(() => effectiveCapabilities(['NET_FOO'])).toThrow(/unknown capability "NET_FOO"/);
  });
});
