import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerCreateBody, toMuelleCreate } from './containers.mapping';
import { NotSupportedByMuelleError } from './errors';

/** `docker create busybox` exactly as the docker CLI 28.2 sends it (captured from the wire). */
const cliDefault = (): DockerCreateBody => JSON.parse(readFileSync(join(__dirname, 'fixtures/docker-28-create-default.json'), 'utf8'));
const create = (body: DockerCreateBody) => toMuelleCreate(body, undefined, '127.0.0.1:5000/library/busybox:latest', 'busybox');
const withHost = (hostConfig: Record<string, unknown>, top: Record<string, unknown> = {}): DockerCreateBody => {
  const body = cliDefault();
  return { ...body, ...top, HostConfig: { ...body.HostConfig, ...hostConfig } };
};

describe('Docker create body → ContainerSpec', () => {
  it("accepts every zero value of the docker CLI 28's full create body", () => {
    const body = create(cliDefault());
    expect(body).toMatchObject({ network: 'bridge', security: { readOnly: false, capAdd: [], capDrop: [], ulimits: [], seccomp: 'default' }, init: false, resources: {} });
  });

  it('carries --read-only, --cap-drop, --cap-add, --pids-limit, --ulimit, --security-opt seccomp=unconfined and --init', () => {
    const body = create(
      withHost({
        ReadonlyRootfs: true,
        CapAdd: ['CAP_NET_ADMIN'],
        CapDrop: ['ALL'],
        PidsLimit: 50,
        Ulimits: [{ Name: 'nofile', Hard: 200, Soft: 100 }],
        SecurityOpt: ['seccomp=unconfined', 'no-new-privileges'],
        Init: true,
      }),
    );
    expect(body.security).toEqual({ readOnly: true, capAdd: ['NET_ADMIN'], capDrop: ['ALL'], ulimits: [{ name: 'nofile', soft: 100, hard: 200 }], seccomp: 'unconfined' });
    expect(body.resources.pidsLimit).toBe(50);
    expect(body.init).toBe(true);
  });

  it('carries --health-cmd and its timings (ns → ms), and refuses a duration under 1 ms', () => {
    const body = create(withHost({}, { Healthcheck: { Test: ['CMD-SHELL', 'test -f /ok'], Interval: 250e6, Timeout: 1e9, StartPeriod: 0, Retries: 2 } }));
    expect(body.healthcheck).toEqual({ test: ['CMD-SHELL', 'test -f /ok'], intervalMs: 250, timeoutMs: 1000, startPeriodMs: undefined, retries: 2 });
    expect(create(withHost({}, { Healthcheck: { Test: ['NONE'] } })).healthcheck).toEqual({ test: ['NONE'] });
    expect(() => create(withHost({}, { Healthcheck: { Test: ['CMD', 'true'], Interval: 5 } }))).toThrow('Healthcheck.Interval must be at least 1 ms');
    expect(() => create(withHost({}, { Healthcheck: { Test: ['SHELL', 'true'] } }))).toThrow(/CMD, CMD-SHELL or NONE/);
  });

  it('accepts no-new-privileges in its spellings (it is always on) and nothing else in --security-opt', () => {
    for (const opt of ['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true']) expect(create(withHost({ SecurityOpt: [opt] })).security.seccomp).toBe('default');
    expect(() => create(withHost({ SecurityOpt: ['no-new-privileges=false'] }))).toThrow('the option --security-opt no-new-privileges=false is not supported by Muelle');
    expect(() => create(withHost({ SecurityOpt: ['apparmor=unconfined'] }))).toThrow('the option --security-opt apparmor is not supported by Muelle');
    expect(() => create(withHost({ SecurityOpt: ['label=disable'] }))).toThrow('--security-opt label');
    expect(() => create(withHost({ SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] }))).toThrow('--security-opt seccomp=<profile>');
  });

  it.each([
    [{ Sysctls: { 'net.ipv4.ip_forward': '1' } }, '--sysctl'],
    [{ Devices: [{ PathOnHost: '/dev/kvm', PathInContainer: '/dev/kvm', CgroupPermissions: 'rwm' }] }, '--device'],
    [{ CgroupParent: '/evil' }, '--cgroup-parent'],
    [{ IpcMode: 'host' }, '--ipc'],
    [{ PidMode: 'host' }, '--pid'],
    [{ UTSMode: 'host' }, '--uts'],
    [{ UsernsMode: 'host' }, '--userns'],
    [{ CgroupnsMode: 'host' }, '--cgroupns'],
    [{ Runtime: 'runsc' }, '--runtime'],
    [{ Privileged: true }, '--privileged'],
    [{ Tmpfs: { '/run': '' } }, '--tmpfs'],
    [{ Dns: ['1.1.1.1'] }, '--dns'],
    [{ ExtraHosts: ['a:1.2.3.4'] }, '--add-host'],
    [{ GroupAdd: ['disk'] }, '--group-add'],
    [{ OomScoreAdj: -1000 }, '--oom-score-adj'],
    [{ OomKillDisable: true }, '--oom-kill-disable'],
    [{ ShmSize: 1 << 30 }, '--shm-size'],
    [{ CpusetCpus: '0' }, '--cpuset-cpus'],
    [{ CpuQuota: 50000 }, '--cpu-quota'],
    [{ MemorySwap: -1 }, '--memory-swap'],
    [{ MemoryReservation: 1 << 20 }, '--memory-reservation'],
    [{ MemorySwappiness: 0 }, '--memory-swappiness'],
    [{ BlkioWeight: 10 }, '--blkio-weight'],
    [{ DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] }, '--gpus'],
    [{ LogConfig: { Type: 'syslog', Config: {} } }, '--log-driver'],
    [{ LogConfig: { Type: '', Config: { 'max-size': '1m' } } }, '--log-opt'],
    [{ VolumesFrom: ['other'] }, '--volumes-from'],
    [{ Links: ['db:db'] }, '--link'],
    [{ StorageOpt: { size: '1G' } }, '--storage-opt'],
    [{ MaskedPaths: [] }, '--security-opt systempaths=unconfined'],
    [{ PidsLimit: -1 }, '--pids-limit -1'],
    [{ SomethingNewer: 'x' }, 'HostConfig.SomethingNewer'],
  ])('refuses %j naming %s', (hostConfig, option) => {
    expect(() => create(withHost(hostConfig))).toThrow(NotSupportedByMuelleError);
    expect(() => create(withHost(hostConfig))).toThrow(option);
  });

  it('carries --mount bind/volume and refuses their other options (propagation, driver options)', () => {
    const body = create(withHost({ Mounts: [{ Type: 'bind', Source: '/srv/x', Target: '/x', ReadOnly: true, BindOptions: null }] }));
    expect(body.volumes).toEqual([{ kind: 'bind', source: '/srv/x', target: '/x', readOnly: true }]);
    expect(() => create(withHost({ Mounts: [{ Type: 'bind', Source: '/srv/x', Target: '/x', BindOptions: { Propagation: 'rshared' } }] }))).toThrow('the --mount option BindOptions is not supported by Muelle');
    expect(() => create(withHost({ Mounts: [{ Type: 'tmpfs', Target: '/t' }] }))).toThrow('mount type "tmpfs"');
    expect(() => create(withHost({ Mounts: [{ Type: 'volume', Target: '/x', VolumeOptions: { NoCopy: true } }] }))).toThrow('the --mount option VolumeOptions');
    expect(() => create(withHost({ Binds: ['data:/x:nocopy'] }))).toThrow('the volume option nocopy');
    expect(() => create(withHost({ Mounts: [{ Type: 'bind', Target: '/x' }] }))).toThrow('a bind mount needs a source');
  });

  it('asks for an anonymous volume (a volume mount without a source) for -v /data, a one-path bind and a volume --mount without source', () => {
    expect(create(withHost({}, { Volumes: { '/data': {} } })).volumes).toEqual([{ kind: 'volume', target: '/data', readOnly: false }]);
    expect(create(withHost({ Binds: ['/cache'] })).volumes).toEqual([{ kind: 'volume', target: '/cache', readOnly: false }]);
    expect(create(withHost({ Mounts: [{ Type: 'volume', Source: '', Target: '/m', ReadOnly: true }] })).volumes).toEqual([{ kind: 'volume', target: '/m', readOnly: true }]);
    // The body's Volumes lists every -v target: one a bind or named volume already mounts is not a second volume.
    expect(create(withHost({ Binds: ['/srv/a:/a'] }, { Volumes: { '/a': {}, '/b': {} } })).volumes).toEqual([
      { kind: 'bind', source: '/srv/a', target: '/a', readOnly: false },
      { kind: 'volume', target: '/b', readOnly: false },
    ]);
  });

  it('refuses what --security-opt systempaths=unconfined really sends (empty masked-path lists)', () => {
    const body = JSON.parse(readFileSync(join(__dirname, 'fixtures/docker-28-create-systempaths-unconfined.json'), 'utf8'));
    expect(() => create(body)).toThrow('the option --security-opt systempaths=unconfined is not supported by Muelle');
  });

  it.each([
    [{ Domainname: 'example.org' }, '--domainname'],
    [{ MacAddress: '02:42:ac:11:00:02' }, '--mac-address'],
    [{ Healthcheck: { Test: ['CMD', 'true'], StartInterval: 1e9 } }, '--health-start-interval'],
    [{ NetworkingConfig: { EndpointsConfig: { default: { Aliases: ['db'] } } } }, 'network-scoped aliases are supported only for user-defined networks'],
    [{ NetworkingConfig: { EndpointsConfig: { other: {} } } }, 'an endpoint config for "other"'],
    [{ NetworkingConfig: { EndpointsConfig: { default: { IPAMConfig: { IPv4Address: '10.0.0.9' } } } } }, '--ip'],
  ])('refuses the config %j naming %s', (top, option) => {
    expect(() => create(withHost({}, top))).toThrow(option);
  });

  it('takes a user network’s aliases from its endpoint config (--network-alias, compose’s service name)', () => {
    const body = create({ HostConfig: { NetworkMode: 'shop_default' }, NetworkingConfig: { EndpointsConfig: { shop_default: { Aliases: ['web', 'www'], IPAMConfig: null, Links: [] } } } });
    expect(body).toMatchObject({ network: 'bridge', networks: [{ network: 'shop_default', aliases: ['web', 'www'] }] });
    expect(() => create({ HostConfig: { NetworkMode: 'shop_default' }, NetworkingConfig: { EndpointsConfig: { shop_default: { Aliases: ['bad name'] } } } })).toThrow(/networks/);
  });

  it("joins every network of docker CLI 28's repeated --network: NetworkMode's first, each with its aliases", () => {
    const body = create({ HostConfig: { NetworkMode: 'front' }, NetworkingConfig: { EndpointsConfig: { back: { Aliases: ['api'] }, front: {} } } });
    expect(body).toMatchObject({ network: 'bridge', networks: [{ network: 'front', aliases: [] }, { network: 'back', aliases: ['api'] }] });
    expect(() => create({ HostConfig: { NetworkMode: 'front' }, NetworkingConfig: { EndpointsConfig: { front: {}, host: {} } } })).toThrow('an endpoint config for "host" besides network mode "front"');
  });

  it('keeps accepting the defaults spelled out (ipc private, runc, json-file logs, --no-healthcheck, a named volume)', () => {
    const body = create(
      withHost(
        { IpcMode: 'private', Runtime: 'runc', LogConfig: { Type: 'json-file', Config: {} }, Binds: ['data:/data'] },
        { Healthcheck: { Test: ['NONE'] }, Volumes: { '/data': {} } },
      ),
    );
    expect(body.volumes).toEqual([{ kind: 'volume', source: 'data', target: '/data', readOnly: false }]);
  });
});
