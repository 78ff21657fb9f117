import { ContainerSpec, EMPTY_TEAM_POLICY, TeamPolicy } from '@muelle/contracts';
import fc from 'fast-check';
import { hostOptionViolations, normalizeHostPath } from './host-options';

const member = { role: 'member' as const, teamName: 'alpha' };
const admin = { role: 'admin' as const, teamName: null };
const spec = (input: Partial<Parameters<typeof ContainerSpec.parse>[0]> = {}) => ContainerSpec.parse({ image: 'busybox', ...input });
const policy = (input: Parameters<typeof TeamPolicy.parse>[0]) => TeamPolicy.parse(input);

describe('hostOptionViolations', () => {
  it('lets a member without a policy run an ordinary container, tightening options included', () => {
    const ordinary = spec({
      ports: [{ hostPort: 8080, containerPort: 80 }, { hostPort: 0, containerPort: 53, protocol: 'udp' }],
      volumes: [{ kind: 'volume', source: 'data', target: '/data' }],
      security: { readOnly: true, capDrop: ['ALL'], ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }] },
    });
    expect(hostOptionViolations(member, EMPTY_TEAM_POLICY, ordinary)).toEqual([]);
  });

  it('refuses every host-level option to a member without a policy, naming each', () => {
    const loose = spec({
      volumes: [{ kind: 'bind', source: '/', target: '/host' }],
      network: 'host',
      ports: [{ hostPort: 80, containerPort: 80 }, { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80 }],
      security: { capAdd: ['SYS_ADMIN'], seccomp: 'unconfined' },
    });
    const violations = hostOptionViolations(member, EMPTY_TEAM_POLICY, loose);
    expect(violations.map((v) => v.option)).toEqual(['bind mount', '--network host', 'privileged port', 'publish host IP', '--cap-add', '--security-opt seccomp=unconfined']);
    expect(violations[0].message).toBe('bind mount of /: not allowed for team alpha (admin policy: no host paths may be bind-mounted)');
    expect(violations[4].message).toBe('--cap-add SYS_ADMIN: not allowed for team alpha (admin policy: no capabilities may be added)');
  });

  it('lets an admin use everything', () => {
    const loose = spec({ volumes: [{ kind: 'bind', source: '/', target: '/host' }], network: 'host', ports: [{ hostIp: '10.0.0.1', hostPort: 22, containerPort: 22 }], security: { capAdd: ['ALL'], seccomp: 'unconfined' } });
    expect(hostOptionViolations(admin, EMPTY_TEAM_POLICY, loose)).toEqual([]);
  });

  it('allows binds below a granted prefix, read-only ones only when the grant says so', () => {
    const granted = policy({ bindMounts: [{ path: '/srv/x', readOnly: true }, { path: '/srv/rw', readOnly: false }] });
    const bind = (source: string, readOnly: boolean) => spec({ volumes: [{ kind: 'bind', source, target: '/d', readOnly }] });
    expect(hostOptionViolations(member, granted, bind('/srv/x', true))).toEqual([]);
    expect(hostOptionViolations(member, granted, bind('/srv/x/sub/dir', true))).toEqual([]);
    expect(hostOptionViolations(member, granted, bind('/srv/rw/a', false))).toEqual([]);
    expect(hostOptionViolations(member, granted, bind('/srv/x/a', false))[0].message).toBe(
      'read-write bind mount of /srv/x/a: not allowed for team alpha (admin policy: allowed prefixes /srv/x (ro), /srv/rw (rw); add :ro)',
    );
    // A sibling sharing the prefix's characters, and a path climbing out of it, are not under it.
    expect(hostOptionViolations(member, granted, bind('/srv/xy', true))[0].message).toMatch(/^bind mount of \/srv\/xy: not allowed/);
    expect(hostOptionViolations(member, granted, bind('/srv/x/../../etc', true))[0].message).toBe('bind mount of /srv/x/../../etc: write the host path without . or .. segments');
    expect(hostOptionViolations(member, granted, bind('/srv/x/./a', true))[0].message).toMatch(/without \. or \.\. segments/);
    expect(hostOptionViolations(member, granted, bind('/srv//x/a/', true))).toEqual([]);
  });

  it('allows exactly the granted capabilities, host network, host IPs, low ports and unconfined seccomp', () => {
    const granted = policy({ capAdd: ['net_admin'], hostNetwork: true, publishHostIp: true, privilegedPorts: true, seccompUnconfined: true });
    const asked = spec({ network: 'host', ports: [{ hostIp: '127.0.0.1', hostPort: 80, containerPort: 80 }], security: { capAdd: ['CAP_NET_ADMIN'], seccomp: 'unconfined' } });
    expect(hostOptionViolations(member, granted, asked)).toEqual([]);
    expect(hostOptionViolations(member, granted, spec({ security: { capAdd: ['NET_ADMIN', 'SYS_ADMIN'] } })).map((v) => v.message)).toEqual([
      '--cap-add SYS_ADMIN: not allowed for team alpha (admin policy: capabilities that may be added: NET_ADMIN)',
    ]);
  });

  it('refuses a real-time priority ulimit unless granted; other ulimits are open', () => {
    const rt = spec({ security: { ulimits: [{ name: 'rtprio', soft: 99, hard: 99 }] } });
    expect(hostOptionViolations(member, EMPTY_TEAM_POLICY, rt).map((v) => v.message)).toEqual(['--ulimit rtprio=99:99: not allowed for team alpha (admin policy: real-time priority not granted)']);
    expect(hostOptionViolations(member, policy({ realtimePriority: true }), rt)).toEqual([]);
    expect(hostOptionViolations(member, EMPTY_TEAM_POLICY, spec({ security: { ulimits: [{ name: 'rtprio', soft: 0, hard: 0 }, { name: 'nofile', soft: 1, hard: 1 }] } }))).toEqual([]);
  });

  it('refuses a policy granting ALL capabilities', () => {
    expect(TeamPolicy.safeParse({ capAdd: ['ALL'] }).success).toBe(false);
  });

  it('normalises host paths the way the kernel resolves them', () => {
    expect(normalizeHostPath('/srv//x/./y/')).toBe('/srv/x/y');
    expect(normalizeHostPath('/../..')).toBe('/');
    expect(normalizeHostPath('relative/../../etc')).toBe('/etc');
  });

  it('property: a member without a policy never gets a host bind, host network, a port below 1024, an added capability, unconfined seccomp or real-time priority', () => {
    const pathSegment = fc.constantFrom('', '.', '..', 'srv', 'x', 'etc', 'proc');
    const arbitrarySpec = fc.record({
      volumes: fc.array(
        fc.record({ kind: fc.constantFrom('bind' as const, 'volume' as const), source: fc.array(pathSegment, { maxLength: 5 }).map((s) => `/${s.join('/')}`), readOnly: fc.boolean() }),
        { maxLength: 3 },
      ),
      network: fc.constantFrom('bridge' as const, 'none' as const, 'host' as const),
      ports: fc.array(fc.record({ hostIp: fc.constantFrom('0.0.0.0', '127.0.0.1', '::', '10.1.2.3'), hostPort: fc.integer({ min: 0, max: 65535 }), containerPort: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 3 }),
      capAdd: fc.array(fc.constantFrom('SYS_ADMIN', 'NET_ADMIN', 'ALL', 'NET_RAW'), { maxLength: 3 }),
      seccomp: fc.constantFrom('default' as const, 'unconfined' as const),
      rtprio: fc.option(fc.integer({ min: -1, max: 99 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(arbitrarySpec, (input) => {
        const asked = spec({
          volumes: input.volumes.map((v) => ({ ...v, source: v.kind === 'volume' ? 'named' : v.source, target: '/t' })),
          network: input.network,
          ports: input.ports,
          security: { capAdd: input.capAdd, seccomp: input.seccomp, ulimits: input.rtprio === undefined ? [] : [{ name: 'rtprio', soft: input.rtprio, hard: input.rtprio }] },
        });
        const refused = hostOptionViolations(member, EMPTY_TEAM_POLICY, asked).length > 0;
        const loosens =
          asked.volumes.some((v) => v.kind === 'bind') ||
          asked.network === 'host' ||
          asked.ports.some((p) => (p.hostPort > 0 && p.hostPort < 1024) || !['0.0.0.0', '::'].includes(p.hostIp)) ||
          asked.security.capAdd.length > 0 ||
          asked.security.seccomp === 'unconfined' ||
          asked.security.ulimits.some((u) => u.name === 'rtprio' && u.soft !== 0);
        expect(refused).toBe(loosens);
      }),
      { numRuns: 500 },
    );
  });
});
