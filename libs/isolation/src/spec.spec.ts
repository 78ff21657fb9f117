import { InvalidSpecError } from './errors';
import { encodeExecSpec, encodeRunSpec } from './spec';

describe('encodeRunSpec', () => {
  it('writes one key=value line per field with repeated keys for arrays', () => {
    const text = encodeRunSpec({
      rootfs: '/var/lib/muelle/c1/rootfs',
      args: ['sh', '-c', 'echo hi'],
      env: ['PATH=/bin', 'A=b=c'],
      cwd: '/app',
      user: { uid: 1000, gid: 100, additionalGids: [5, 27] },
      hostname: 'c1',
      cgroupPaths: ['/sys/fs/cgroup/memory/muelle/c1', '/sys/fs/cgroup/pids/muelle/c1'],
      mounts: [{ source: '/srv/data', target: '/data', readonly: true }],
      rlimits: [{ type: 'NOFILE', soft: 1024, hard: 'unlimited' }],
      capabilities: ['CHOWN', 'KILL'],
      seccomp: 'unconfined', // the filter's lines are covered in seccomp/profile.spec.ts
      tty: true,
      terminalSize: { rows: 24, cols: 80 },
    });
    expect(text.split('\n')).toEqual([
      'root=/var/lib/muelle/c1/rootfs',
      'arg=sh', 'arg=-c', 'arg=echo hi',
      'env=PATH=/bin', 'env=A=b=c',
      'cwd=/app',
      'uid=1000', 'gid=100', 'group=5', 'group=27',
      'caps=CHOWN,KILL',
      'no_new_privs=1',
      'rlimit=NOFILE:1024:unlimited',
      'cgroup=/sys/fs/cgroup/memory/muelle/c1', 'cgroup=/sys/fs/cgroup/pids/muelle/c1',
      'pty=1', 'rows=24', 'cols=80',
      'hostname=c1',
      'netns=new',
      'mount=/srv/data:/data:ro',
      '',
    ]);
  });

  it('encodes an overlay root, init mode and bridge networking', () => {
    const text = encodeRunSpec({
      rootfs: '/c/rootfs',
      args: ['true'],
      overlay: { lowerDirs: ['/layers/b', '/layers/a'], upperDir: '/c/upper', workDir: '/c/work' },
      init: true,
      network: { mode: 'bridge', bridge: 'muelle0', hostInterface: 'mv0123456789', macAddress: '02:42:0a:0b:0c:0d', address: '10.88.0.5/16', gateway: '10.88.0.1' },
    });
    expect(text.split('\n').slice(-12)).toEqual([
      'lower=/layers/b', 'lower=/layers/a', 'upper=/c/upper', 'work=/c/work',
      'init=1',
      'netns=new',
      'veth_host=mv0123456789', 'bridge=muelle0', 'mac=02:42:0a:0b:0c:0d', 'addr=10.88.0.5/16', 'gateway=10.88.0.1',
      '',
    ]);
  });

  it('refuses overlay dirs with separators and malformed bridge settings', () => {
    expect(() => encodeRunSpec({ rootfs: '/r', args: ['true'], overlay: { lowerDirs: ['/a:b'], upperDir: '/u', workDir: '/w' } })).toThrow(InvalidSpecError);
    expect(() => encodeRunSpec({ rootfs: '/r', args: ['true'], overlay: { lowerDirs: [], upperDir: '/u', workDir: '/w' } })).toThrow(InvalidSpecError);
    const bridge = { mode: 'bridge' as const, bridge: 'br0', hostInterface: 'v0', macAddress: '02:42:00:00:00:01', address: '10.0.0.2/24', gateway: '10.0.0.1' };
    expect(() => encodeRunSpec({ rootfs: '/r', args: ['true'], network: { ...bridge, address: '10.0.0.2' } })).toThrow(/CIDR/);
    expect(() => encodeRunSpec({ rootfs: '/r', args: ['true'], network: { ...bridge, mtu: 100 } })).toThrow(/MTU/);
    expect(encodeRunSpec({ rootfs: '/r', args: ['true'], network: { ...bridge, mtu: 1450 } })).toContain('gateway=10.0.0.1\nmtu=1450\n');
    expect(() => encodeRunSpec({ rootfs: '/r', args: ['true'], network: { ...bridge, hostInterface: 'much-too-long-name' } })).toThrow(/interface/);
    expect(() => encodeRunSpec({ rootfs: '/r', args: ['true'], network: { ...bridge, macAddress: 'zz' } })).toThrow(/MAC/);
  });

  it('escapes newlines and backslashes so every value stays on one line', () => {
    const text = encodeRunSpec({ rootfs: '/r', args: ['sh', '-c', 'echo a\necho \\n'] });
    expect(text).toContain('arg=echo a\\necho \\\\n\n');
  });

  it('maps network modes', () => {
    expect(encodeRunSpec({ rootfs: '/r', args: ['x'], network: { mode: 'host' } })).toContain('netns=host');
    expect(encodeRunSpec({ rootfs: '/r', args: ['x'], network: { mode: 'join', path: '/run/netns/a' } })).toContain('netns_path=/run/netns/a');
  });

  it('asks the helper to wait for start only when a beforeStart hook is given', () => {
    expect(encodeRunSpec({ rootfs: '/r', args: ['x'] })).not.toContain('wait_start');
    expect(encodeRunSpec({ rootfs: '/r', args: ['x'], beforeStart: async () => undefined })).toContain('wait_start=1');
  });

  it.each([
    [{ rootfs: 'relative', args: ['x'] }, /rootfs must be an absolute path/],
    [{ rootfs: '/r', args: [] }, /args must name a command/],
    [{ rootfs: '/r', args: ['x\0y'] }, /must not contain NUL/],
    [{ rootfs: '/r', args: ['x'], env: ['NOEQUALS'] }, /KEY=value/],
    [{ rootfs: '/r', args: ['x'], cwd: 'app' }, /cwd must be an absolute path/],
    [{ rootfs: '/r', args: ['x'], user: { uid: -1, gid: 0 } }, /uid must be an integer/],
    [{ rootfs: '/r', args: ['x'], hostname: 'bad host' }, /invalid hostname/],
    [{ rootfs: '/r', args: ['x'], mounts: [{ source: '/a:b', target: '/c' }] }, /must not contain ":"/],
    [{ rootfs: '/r', args: ['x'], rlimits: [{ type: 'NOFILE' as const, soft: -5, hard: 1 }] }, /non-negative/],
  ])('rejects invalid specs before starting anything (%#)', (s, message) => {
    expect(() => encodeRunSpec(s)).toThrow(InvalidSpecError);
    expect(() => encodeRunSpec(s)).toThrow(message);
  });
});

describe('encodeExecSpec', () => {
  it('targets the container init pid', () => {
    expect(encodeExecSpec(4242, { args: ['ps'] }).split('\n').slice(0, 2)).toEqual(['pid=4242', 'arg=ps']);
    expect(() => encodeExecSpec(0, { args: ['ps'] })).toThrow(InvalidSpecError);
  });
});
