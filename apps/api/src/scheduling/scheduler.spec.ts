import { ContainerSpec, HostRecord, HostUsage } from '@muelle/contracts';
import fc from 'fast-check';
import { explainNoPlacement, placeContainer, withPlacement } from './scheduler';

const GiB = 1024 ** 3;
const host = (id: string, extra: Partial<HostRecord> = {}): HostRecord => ({
  id,
  address: '10.0.0.1',
  capacity: { cpus: 4, memoryBytes: 8 * GiB, diskBytes: 100 * GiB },
  labels: {},
  state: 'ready',
  cordoned: false,
  agentVersion: 't',
  registeredAt: '2026-01-01T00:00:00.000Z',
  lastHeartbeatAt: '2026-01-01T00:00:00.000Z',
  notReady: null,
  ...extra,
});
const usage = (hostId: string, extra: Partial<HostUsage> = {}): HostUsage => ({ hostId, containers: 0, reservedMemoryBytes: 0, reservedCpus: 0, usedPorts: [], services: {}, ...extra });
const spec = (extra: object = {}) => ContainerSpec.parse({ image: 'app', ...extra });

describe('placeContainer', () => {
  it('skips hosts that are down or cordoned', () => {
    const hosts = [host('a', { state: 'down' }), host('b', { cordoned: true }), host('c')];
    expect(placeContainer(spec(), hosts, [])).toEqual({ hostId: 'c', score: expect.any(Number) });
  });

  it('skips a host whose agent reports low disk, and says so', () => {
    const hosts = [host('a', { capacity: { cpus: 4, memoryBytes: 8 * GiB, diskBytes: 100 * GiB, diskFreeBytes: 100 * 1024 ** 2, diskLow: true } }), host('b')];
    expect(placeContainer(spec(), hosts, []).hostId).toBe('b');
    const alone = placeContainer(spec(), hosts.slice(0, 1), []);
    expect(alone.hostId).toBeNull();
    expect(explainNoPlacement('rejections' in alone ? alone.rejections : [])).toBe('no host can run this container: a: low disk (100 MiB free)');
  });

  it('skips a host whose agent cannot make containers, and names it and the reason when no other fits', () => {
    const broken = host('a', { notReady: 'cgroup v2 hierarchy unusable: EACCES' });
    expect(placeContainer(spec(), [broken, host('b')], []).hostId).toBe('b');
    const only = placeContainer(spec(), [broken], []);
    expect(only).toEqual({ hostId: null, rejections: [{ hostId: 'a', kind: 'not_ready', reason: 'cannot make containers: cgroup v2 hierarchy unusable: EACCES' }] });
    if (only.hostId === null) expect(explainNoPlacement(only.rejections)).toBe('no host can run this container: a: cannot make containers: cgroup v2 hierarchy unusable: EACCES');
  });

  it('honours a pinned host and label constraints', () => {
    const hosts = [host('a', { labels: { zone: 'x' } }), host('b', { labels: { zone: 'y' } })];
    expect(placeContainer(spec({ placement: { hostId: 'b' } }), hosts, []).hostId).toBe('b');
    expect(placeContainer(spec({ placement: { constraints: { zone: 'x' } } }), hosts, []).hostId).toBe('a');
  });

  it('refuses a host where the published port is taken, including by a wildcard address', () => {
    const hosts = [host('a'), host('b')];
    const usages = [usage('a', { usedPorts: ['0.0.0.0:8080/tcp'] })];
    expect(placeContainer(spec({ ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80 }] }), hosts, usages).hostId).toBe('b');
    expect(placeContainer(spec({ ports: [{ hostPort: 8080, containerPort: 80, protocol: 'udp' }] }), hosts, usages).hostId).toBe('a');
  });

  it('refuses a host without enough unreserved memory or CPU', () => {
    const hosts = [host('a'), host('b', { capacity: { cpus: 1, memoryBytes: GiB, diskBytes: GiB } })];
    const usages = [usage('a', { reservedMemoryBytes: 7.5 * GiB })];
    expect(placeContainer(spec({ resources: { memoryBytes: GiB } }), hosts, usages).hostId).toBe('b');
    expect(placeContainer(spec({ resources: { cpus: 2 } }), hosts, usages).hostId).toBe('a');
  });

  it('puts a container on the least loaded host', () => {
    const hosts = [host('a'), host('b')];
    const usages = [usage('a', { containers: 3, reservedMemoryBytes: 4 * GiB }), usage('b', { containers: 1, reservedMemoryBytes: GiB })];
    expect(placeContainer(spec({ resources: { memoryBytes: GiB } }), hosts, usages).hostId).toBe('b');
  });

  it("spreads a service's replicas before balancing load", () => {
    const hosts = [host('a'), host('b')];
    const usages = [usage('a', { containers: 5, services: {} }), usage('b', { containers: 0, services: { web: 1 } })];
    expect(placeContainer(spec({ labels: { 'muelle.service': 'web' } }), hosts, usages).hostId).toBe('a');
  });

  it('explains every rejection when nothing fits', () => {
    const result = placeContainer(spec({ placement: { constraints: { gpu: 'yes' } } }), [host('a'), host('b', { state: 'down' })], []);
    expect(result.hostId).toBeNull();
    if (result.hostId === null) {
      expect(explainNoPlacement(result.rejections)).toBe('no host can run this container: a: label gpu=yes not on host; b: host is down');
    }
    expect(explainNoPlacement([])).toBe('no hosts are registered');
  });

  it('is deterministic and independent of the order hosts are listed in', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), containers: fc.nat(20), mem: fc.nat(8) }), { minLength: 1, maxLength: 8, selector: (h) => h.id }),
        (raw) => {
          const hosts = raw.map((h) => host(h.id));
          const usages = raw.map((h) => usage(h.id, { containers: h.containers, reservedMemoryBytes: h.mem * GiB * 0.9 }));
          const forward = placeContainer(spec({ resources: { memoryBytes: 256 * 1024 ** 2 } }), hosts, usages);
          const backward = placeContainer(spec({ resources: { memoryBytes: 256 * 1024 ** 2 } }), [...hosts].reverse(), [...usages].reverse());
          expect(forward).toEqual(backward);
        },
      ),
    );
  });
});

describe('withPlacement', () => {
  it('adds a placement as metadata sums it: one container, its reservations, published ports and service; other hosts untouched', () => {
    const web = spec({ resources: { memoryBytes: GiB, cpus: 0.5 }, ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81, hostPort: 0 }], labels: { 'muelle.service': 'web' } });
    const before = [usage('a', { containers: 2, reservedMemoryBytes: GiB, reservedCpus: 1, usedPorts: ['0.0.0.0:22/tcp'], services: { web: 1 } }), usage('b')];
    const after = withPlacement(before, 'a', web);
    expect(after.find((u) => u.hostId === 'a')).toEqual(
      usage('a', { containers: 3, reservedMemoryBytes: 2 * GiB, reservedCpus: 1.5, usedPorts: ['0.0.0.0:22/tcp', '0.0.0.0:8080/tcp'], services: { web: 2 } }),
    );
    expect(after.find((u) => u.hostId === 'b')).toBe(before[1]);
    expect(before[0].containers).toBe(2); // the snapshot it came from is not changed
    expect(withPlacement([], 'c', spec())).toEqual([usage('c', { containers: 1 })]);
  });
});
