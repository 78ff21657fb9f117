import { toMuelleCreate } from './containers.mapping';
import { NotSupportedByMuelleError } from './errors';
import { decodeExecId, encodeExecId } from './exec-ids';
import { multiplexedFrame, parseMultiplexed, upgradeHead } from './framing';
import { matchDockerPath, rewriteDockerUrl } from './paths';

describe('Docker Engine API plumbing', () => {
  it('frames non-TTY output as stdcopy: stream byte, three zeros, big-endian length', () => {
    const frame = multiplexedFrame(2, Buffer.from('oops\n'));
    expect([...frame.subarray(0, 8)]).toEqual([2, 0, 0, 0, 0, 0, 0, 5]);
    expect(frame.subarray(8).toString()).toBe('oops\n');
    const big = Buffer.alloc(70_000, 0x61);
    const parsed = parseMultiplexed(Buffer.concat([multiplexedFrame(1, big), frame]));
    expect(parsed.map((f) => [f.stream, f.payload.length])).toEqual([
      [1, 70_000],
      [2, 5],
    ]);
  });

  it('answers the hijack byte for byte like dockerd', () => {
    expect(upgradeHead(true)).toBe('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    expect(upgradeHead(false)).toContain('application/vnd.docker.multiplexed-stream');
  });

  it("maps versioned and unversioned Docker paths, never Muelle's /v1", () => {
    expect(rewriteDockerUrl('/v1.41/containers/json?all=1')).toBe('/docker-engine/containers/json?all=1');
    expect(rewriteDockerUrl('/_ping')).toBe('/docker-engine/_ping');
    expect(rewriteDockerUrl('/images/127.0.0.1:5000/a/b/push?tag=1')).toBe('/docker-engine/images/127.0.0.1:5000/a/b/push?tag=1');
    expect(rewriteDockerUrl('/v1/containers/json')).toBe('/v1/containers/json');
    expect(rewriteDockerUrl('/healthz')).toBe('/healthz');
    expect(matchDockerPath('/v1.43/exec/abc/start')).toEqual({ path: '/exec/abc/start', version: '1.43', query: '' });
  });

  it('round-trips exec ids and refuses foreign ones with a 404', () => {
    const c = 'a'.repeat(64);
    const e = 'b'.repeat(64);
    expect(decodeExecId(encodeExecId(c, e))).toEqual({ containerId: c, execId: e });
    expect(() => decodeExecId('nope')).toThrow(/No such exec instance/);
  });

  it("turns docker run's create body into Muelle's spec", () => {
    const body = toMuelleCreate(
      {
        Image: 'busybox:1',
        Cmd: ['httpd', '-f'],
        Entrypoint: null,
        Env: ['A=1'],
        Tty: true,
        OpenStdin: true,
        StdinOnce: true,
        ExposedPorts: { '8080/tcp': {} },
        HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '', HostPort: '8080' }] }, Binds: ['/srv:/data:ro', 'cache:/cache'], RestartPolicy: { Name: '' }, AutoRemove: true, NetworkMode: 'default', Memory: 64 * 1024 * 1024, NanoCpus: 1.5e9 },
      },
      'web',
      '127.0.0.1:5000/busybox:1',
      'busybox:1',
    );
    expect(body).toMatchObject({
      name: 'web',
      image: '127.0.0.1:5000/busybox:1',
      command: ['httpd', '-f'],
      env: ['A=1'],
      tty: true,
      openStdin: true,
      stdinOnce: true,
      ports: [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 8080, protocol: 'tcp' }],
      volumes: [
        { kind: 'bind', source: '/srv', target: '/data', readOnly: true },
        { kind: 'volume', source: 'cache', target: '/cache', readOnly: false },
      ],
      network: 'bridge',
      resources: { memoryBytes: 64 * 1024 * 1024, cpus: 1.5 },
      restartPolicy: { name: 'no', maxRetries: 0 },
      autoRemove: false,
      labels: { 'muelle.docker.image': 'busybox:1', 'muelle.docker.auto-remove': 'true' },
    });
  });

  it('refuses options Muelle cannot honour instead of ignoring them', () => {
    expect(() => toMuelleCreate({ Image: 'x', HostConfig: { Privileged: true } }, undefined, 'r/x:latest', 'x')).toThrow(NotSupportedByMuelleError);
    expect(() => toMuelleCreate({ Image: 'x', HostConfig: { NetworkMode: 'container:abc' } }, undefined, 'r/x:latest', 'x')).toThrow(/not supported by Muelle/);
  });
});
