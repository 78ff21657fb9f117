import { CliError } from './errors';
import { parseEnv, parseMemory, parseNetworks, parsePairs, parsePublish, parseRestart, parseServicePublish, parseRunVolume, parseTimeBound, parseVolume } from './parse';

describe('docker-like flag parsing', () => {
  it('reads -p in its docker forms', () => {
    expect(parsePublish('8080:80')).toEqual({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    expect(parsePublish('127.0.0.1:53:53/udp')).toEqual({ hostIp: '127.0.0.1', hostPort: 53, containerPort: 53, protocol: 'udp' });
    expect(parsePublish('80')).toEqual({ hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, protocol: 'tcp' });
    expect(() => parsePublish('80:http')).toThrow(CliError);
  });

  it('reads service --publish: the short form is an ingress port, the long form names its mode', () => {
    expect(parseServicePublish('8080:80')).toEqual({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp', mode: 'ingress' });
    expect(parseServicePublish('mode=host,published=8080,target=80')).toEqual({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp', mode: 'host' });
    expect(parseServicePublish('published=53,target=53,protocol=udp')).toEqual({ hostIp: '0.0.0.0', hostPort: 53, containerPort: 53, protocol: 'udp', mode: 'ingress' });
    expect(() => parseServicePublish('mode=vip,published=1,target=1')).toThrow(/mode must be ingress or host/);
    expect(() => parseServicePublish('published=8080,target=80,host_ip=1.2.3.4')).toThrow(/host_ip is not supported/);
    expect(() => parseServicePublish('mode=host,target=80')).toThrow(/published must be a port number/);
  });

  it('tells bind mounts from named volumes', () => {
    expect(parseVolume('/srv/data:/data:ro')).toEqual({ kind: 'bind', source: '/srv/data', target: '/data', readOnly: true });
    expect(parseVolume('cache:/var/cache')).toEqual({ kind: 'volume', source: 'cache', target: '/var/cache', readOnly: false });
    expect(() => parseVolume('/only-one-part')).toThrow(/source:\/target/);
    // `run -v /data`: an anonymous volume (services and stacks still need a source).
    expect(parseRunVolume('/data')).toEqual({ kind: 'volume', target: '/data', readOnly: false });
    expect(parseRunVolume('cache:/c:ro')).toEqual({ kind: 'volume', source: 'cache', target: '/c', readOnly: true });
    expect(() => parseRunVolume('relative')).toThrow(/source:\/target/);
  });

  it('reads memory sizes with binary units', () => {
    expect(parseMemory('512m')).toBe(512 * 1024 * 1024);
    expect(parseMemory('1g')).toBe(1024 ** 3);
    expect(parseMemory('1.5k')).toBe(1536);
    expect(() => parseMemory('lots')).toThrow(/invalid memory/);
  });

  it('reads restart policies, with retries only for on-failure', () => {
    expect(parseRestart('always')).toEqual({ name: 'always', maxRetries: 0 });
    expect(parseRestart('on-failure:3')).toEqual({ name: 'on-failure', maxRetries: 3 });
    expect(() => parseRestart('always:3')).toThrow(CliError);
    expect(() => parseRestart('sometimes')).toThrow(/invalid restart policy/);
  });

  it('takes -e KEY from the environment and drops unset ones, like docker', () => {
    expect(parseEnv(['A=1', 'HOME', 'MISSING'], { HOME: '/root' })).toEqual(['A=1', 'HOME=/root']);
    expect(parsePairs(['zone=a', 'k=v=w'], 'label')).toEqual({ zone: 'a', k: 'v=w' });
    expect(() => parsePairs(['novalue'], 'constraint')).toThrow(/invalid constraint "novalue"/);
  });
});

describe('--since / --until', () => {
  const now = Date.parse('2026-12-03T15:00:00Z');
  it('reads durations, unix seconds and RFC 3339 times', () => {
    expect(parseTimeBound('10m', '--since', now)).toBe('2026-12-03T14:50:00.000Z');
    expect(parseTimeBound('1h30m', '--since', now)).toBe('2026-12-03T13:30:00.000Z');
    expect(parseTimeBound('1796310000', '--since', now)).toBe('2026-12-03T15:00:00.000Z');
    expect(parseTimeBound('2026-12-03T16:00:00+01:00', '--until', now)).toBe('2026-12-03T15:00:00.000Z');
    expect(() => parseTimeBound('yesterday', '--until', now)).toThrow(/invalid --until "yesterday"/);
  });
});

describe('--network', () => {
  it('keeps bridge/host/none alone and the team networks in the order given, aliases on the first', () => {
    expect(parseNetworks([], [])).toEqual({ network: 'bridge' });
    expect(parseNetworks(['host'], [])).toEqual({ network: 'host' });
    expect(parseNetworks(['a', 'b'], [])).toEqual({ network: 'bridge', networks: ['a', 'b'] });
    expect(parseNetworks(['a', 'b'], ['web'])).toEqual({ network: 'bridge', networks: [{ network: 'a', aliases: ['web'] }, 'b'] });
  });

  it('refuses host modes mixed with networks, and aliases without a team network', () => {
    expect(() => parseNetworks(['a', 'host'], [])).toThrow('--network host cannot be combined with other networks');
    expect(() => parseNetworks(['bridge'], ['web'])).toThrow('--network-alias needs --network');
  });
});
