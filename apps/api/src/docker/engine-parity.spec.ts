import { ContainerSpec, endpointMac } from '@muelle/contracts';
import { shapeDifferences } from '@muelle/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerView } from '../containers/containers.service';
import { toInspect, toListItem } from './containers.mapping';

/**
 * The mapping functions against a real dockerd's answers (fixtures/engine, recorded by
 * tools/docker-parity/record-engine.mjs), without a platform: every key dockerd sends is there with
 * the same JSON type, except the documented gaps. e2e/docker-cli compares the whole api the same way.
 */
const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, 'fixtures/engine', `${name}.json`), 'utf8'));
const gaps: Record<string, string[]> = fixture('gaps').gaps;
const undocumented = (name: string, actual: unknown) =>
  shapeDifferences(fixture(name).body, actual).filter((d) => !(gaps[name] ?? []).includes(d.replace(/: missing$/, '')));

// The container of the recording: `sleep 60` from busybox, labelled parity=yes, port 8080 published, running on a bridge.
const spec = ContainerSpec.parse({ image: '127.0.0.1:5000/library/busybox:1', command: ['sleep', '60'], labels: { parity: 'yes' }, ports: [{ hostPort: 18080, containerPort: 8080 }] });
const view: ContainerView = {
  id: 'a'.repeat(64),
  name: 'parity',
  hostId: 'host-a',
  teamId: null,
  image: spec.image,
  imageDigest: `sha256:${'b'.repeat(64)}`,
  spec,
  labels: {},
  state: 'running',
  exitCode: null,
  oomKilled: false,
  restartCount: 0,
  createdAt: '2026-12-03T15:00:00.000Z',
  startedAt: '2026-12-03T15:00:01.000Z',
  finishedAt: null,
  health: null,
  hostAddress: '127.0.0.1',
  runtime: { pid: 4242, ipAddress: '10.89.0.2', macAddress: '02:42:0a:59:00:02', ports: [{ hostIp: '0.0.0.0', hostPort: 18080, containerPort: 8080, protocol: 'tcp' }], error: '', stoppedByUser: false, state: 'running', exitCode: null, startedAt: '2026-12-03T15:00:01.000Z', finishedAt: null },
};

describe('Docker API answers shaped like dockerd 20.10', () => {
  it('GET /containers/{id}/json', () => {
    expect(undocumented('container-inspect', toInspect(view))).toEqual([]);
  });

  it('GET /containers/{id}/json of a container on user networks: one entry per network, keyed by its name, shaped as the bridge’s', () => {
    const network = { id: 'c'.repeat(64), name: 'shop_default', subnet: '10.90.0.0/24', gateway: '10.90.0.1', address: '10.90.0.2', aliases: ['web'] };
    const second = { id: 'd'.repeat(64), name: 'shop_back', subnet: '10.90.1.0/24', gateway: '10.90.1.1', address: '10.90.1.5' };
    const inspect = toInspect({ ...view, spec: { ...spec, networks: [network, second] } });
    expect(undocumented('container-inspect', { ...inspect, NetworkSettings: { ...inspect.NetworkSettings, Networks: { bridge: inspect.NetworkSettings.Networks.shop_default } } })).toEqual([]);
    expect(inspect.NetworkSettings.Networks).toEqual({
      shop_default: expect.objectContaining({ Aliases: ['web', 'aaaaaaaaaaaa'], NetworkID: network.id, IPAddress: '10.90.0.2', Gateway: '10.90.0.1', IPPrefixLen: 24, MacAddress: endpointMac(view.id, network.id) }),
      shop_back: expect.objectContaining({ Aliases: ['aaaaaaaaaaaa'], NetworkID: second.id, IPAddress: '10.90.1.5', Gateway: '10.90.1.1', IPPrefixLen: 24, MacAddress: endpointMac(view.id, second.id) }),
    });
  });

  it("Mounts: a volume (an anonymous one here) and a bind, in dockerd 20.10's keys, the same in inspect and the list", () => {
    const anonymous = 'e'.repeat(64);
    const mounted = { ...view, spec: { ...spec, volumes: [{ kind: 'volume' as const, source: anonymous, target: '/data', readOnly: false }, { kind: 'bind' as const, source: '/srv/x', target: '/x', readOnly: true }] } };
    const mounts = [
      { Type: 'volume', Name: anonymous, Source: '', Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' },
      { Type: 'bind', Source: '/srv/x', Destination: '/x', Mode: 'ro', RW: false, Propagation: 'rprivate' },
    ];
    expect(toInspect(mounted).Mounts).toEqual(mounts);
    expect(toListItem(mounted).Mounts).toEqual(mounts);
  });

  it('GET /containers/json', () => {
    expect(undocumented('containers-list', [toListItem(view)])).toEqual([]);
  });
});
