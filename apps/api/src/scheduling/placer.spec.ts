import type { HostRecord } from '@muelle/contracts';
import { PlacementRun, Placer } from './placer';
import { ServiceMetrics } from '@muelle/service-kit';
import pino from 'pino';
import { FakePlacementMetadata, GiB, host, spec } from './__tests__/fake-placement-metadata';

describe('Placer, several moves in one run (an evacuation pass)', () => {
  const setup = (hosts: HostRecord[]) => {
    const metadata = new FakePlacementMetadata(hosts);
    const placer = new Placer(metadata.cluster(), new ServiceMetrics('api'), pino({ level: 'silent' }));
    const move = (id: string, run: PlacementRun) =>
      placer.place(metadata.records.get(id)!.spec, (target, generation) => metadata.reassign(id, target.id, generation), { excludeHost: 'down', run });
    return { metadata, move };
  };

  it('reads one snapshot for the whole pass and keeps every host within its memory, refusing once the hosts fill up', async () => {
    const { metadata, move } = setup([host('down', 8 * GiB, 'down'), host('b'), host('c')]);
    metadata.records.set('already', { hostId: 'b', spec: spec() });
    for (let i = 0; i < 5; i++) metadata.records.set(`m${i}`, { hostId: 'down', spec: spec() });
    const run = new PlacementRun();
    const placed: Array<string | null> = [];
    for (let i = 0; i < 5; i++) placed.push((await move(`m${i}`, run)).host?.id ?? null);

    // b holds 1 GiB already: 3 of the 5 fit in 2 + 2 GiB; the 4th is refused mid-pass, after one recheck from fresh usage.
    expect(placed.filter(Boolean)).toHaveLength(3);
    expect(placed.slice(3)).toEqual([null, null]);
    expect(metadata.reservedOn('b')).toBeLessThanOrEqual(2 * GiB);
    expect(metadata.reservedOn('c')).toBeLessThanOrEqual(2 * GiB);
    expect(metadata.snapshots).toBe(2);
  });

  it('decides again from fresh usage when another replica placed something meanwhile, and still respects capacity', async () => {
    const { metadata, move } = setup([host('down', 8 * GiB, 'down'), host('b'), host('c')]);
    for (let i = 0; i < 3; i++) metadata.records.set(`m${i}`, { hostId: 'down', spec: spec() });
    const run = new PlacementRun();
    expect((await move('m0', run)).host?.id).toBe('b'); // equal load: lowest host id
    // Another replica fills c (and bumps the generation), unseen by this run's view.
    metadata.records.set('other1', { hostId: 'c', spec: spec() });
    metadata.records.set('other2', { hostId: 'c', spec: spec() });
    metadata.generation++;

    // The run's view still shows c empty: its commit is stale, fresh usage sends m1 to b instead.
    expect((await move('m1', run)).host?.id).toBe('b');
    expect((await move('m2', run)).host).toBeNull();
    expect(metadata.reservedOn('b')).toBe(2 * GiB);
    expect(metadata.reservedOn('c')).toBe(2 * GiB);
    expect(metadata.snapshots).toBe(3); // the first, the one after the stale commit, the recheck of the refusal
  });

  it('counts published ports placed earlier in the pass: two containers on one host port land on different hosts', async () => {
    const { metadata, move } = setup([host('down', 8 * GiB, 'down'), host('b', 8 * GiB), host('c', 8 * GiB)]);
    const web = spec({ ports: [{ containerPort: 80, hostPort: 8080 }] });
    metadata.records.set('w1', { hostId: 'down', spec: web });
    metadata.records.set('w2', { hostId: 'down', spec: web });
    metadata.records.set('w3', { hostId: 'down', spec: web });
    const run = new PlacementRun();
    const hosts = [(await move('w1', run)).host?.id, (await move('w2', run)).host?.id, (await move('w3', run)).host];
    expect(new Set(hosts.slice(0, 2))).toEqual(new Set(['b', 'c']));
    expect(hosts[2]).toBeNull();
    expect(metadata.snapshots).toBe(2);
  });
});
