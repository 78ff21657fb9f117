import { agentContracts, ContainerRecord, reassignContainer, reassignContainers } from '@muelle/contracts';
import type { BusClient } from '@muelle/bus';
import { ServiceMetrics } from '@muelle/service-kit';
import pino from 'pino';
import type { AuditLog } from '../audit/audit-log';
import { FakePlacementMetadata, GiB, host, spec } from '../scheduling/__tests__/fake-placement-metadata';
import { Placer } from '../scheduling/placer';
import { ContainerMoves } from './container-moves';
import type { ContainersService } from './containers.service';

/** A host-down pass: ContainerMoves with the real Placer, metadata and agents faked on a bus stand-in. */
function setup(hosts = [host('down', 8 * GiB, 'down'), host('b'), host('c')]) {
  const metadata = new FakePlacementMetadata(hosts);
  const calls: string[] = [];
  let failCreateOn: string | undefined;
  const bus = {
    request: async (contract: { subject: string }, data: Record<string, unknown>) => {
      calls.push(contract.subject);
      if (contract === reassignContainers) return metadata.reassignMany(data.moves as never, data.placementGeneration as number);
      if (contract === reassignContainer) return metadata.reassign(data.id as string, data.hostId as string, data.placementGeneration as number);
      if (contract.subject.includes('.down.')) throw new Error('host down does not answer');
      if (failCreateOn && contract.subject === agentContracts(failCreateOn).create.subject) throw new Error('create failed');
      return {};
    },
  } as unknown as BusClient;
  const containers = { agent: agentContracts, publish: () => undefined } as unknown as ContainersService;
  const placer = new Placer(metadata.cluster(), new ServiceMetrics('api'), pino({ level: 'silent' }));
  const moves = new ContainerMoves(bus, placer, { record: async () => undefined } as unknown as AuditLog, containers, pino({ level: 'silent' }));
  const onDown = (n: number, extra: object = {}): ContainerRecord[] =>
    Array.from({ length: n }, (_, i) => {
      const s = spec({ restartPolicy: { name: 'always' }, ...extra });
      metadata.records.set(`m${i}`, { hostId: 'down', spec: s });
      return { id: `m${i}`, name: `m${i}`, hostId: 'down', spec: s } as unknown as ContainerRecord;
    });
  return { metadata, moves, calls, onDown, failOn: (h: string) => (failCreateOn = h) };
}

describe('ContainerMoves.moveAll (a host-down pass)', () => {
  it('keeps every host within its memory across the moves of one pass, refusing those that no longer fit, with one snapshot and one reassign', async () => {
    const { metadata, moves, calls, onDown } = setup();
    metadata.records.set('already', { hostId: 'b', spec: spec() });
    const outcomes = await moves.moveAll(onDown(5), 'down', 'host down');

    // b holds 1 GiB of its 2 already: 3 of the 5 fit; the host fills up mid-pass and the last 2 stay.
    expect(outcomes.filter((o) => o.to).map((o) => o.to)).toEqual(['c', 'b', 'c']);
    expect(outcomes.filter((o) => !o.to)).toHaveLength(2);
    expect(metadata.reservedOn('b')).toBe(2 * GiB);
    expect(metadata.reservedOn('c')).toBe(2 * GiB);
    expect(metadata.snapshots).toBe(1);
    expect(calls.filter((s) => s === reassignContainers.subject)).toHaveLength(1);
    expect(calls.filter((s) => s === agentContracts('c').start.subject)).toHaveLength(2);
  });

  it('decides the whole pass again when another replica placed something first, and skips what it already moved', async () => {
    const { metadata, moves, onDown } = setup();
    const records = onDown(3);
    const reassignMany = metadata.reassignMany.bind(metadata);
    let raced = false;
    metadata.reassignMany = async (list, generation) => {
      if (!raced) {
        // Another replica, between this pass's snapshot and its commit: it moved m0 to c and filled c.
        raced = true;
        metadata.records.set('m0', { ...metadata.records.get('m0')!, hostId: 'c' });
        metadata.records.set('other', { hostId: 'c', spec: spec() });
        metadata.generation++;
      }
      return reassignMany(list, generation);
    };
    const outcomes = await moves.moveAll(records, 'down', 'host down');

    // Decided again from fresh usage (c full): m0 and m1 would go to b, m2 no longer fits. Metadata
    // skips m0 (already on c), so the pass erred on the safe side: m2 stays for the next round.
    expect(outcomes.map((o) => [o.record.id, o.to])).toEqual([
      ['m0', null],
      ['m1', 'b'],
      ['m2', null],
    ]);
    expect(metadata.records.get('m0')!.hostId).toBe('c');
    expect(metadata.reservedOn('c')).toBe(2 * GiB);
    expect(metadata.snapshots).toBe(2);
    const next = await moves.moveAll([records[2]], 'down', 'host down');
    expect(next.map((o) => o.to)).toEqual(['b']);
    expect(metadata.reservedOn('b')).toBe(2 * GiB);
  });

  it('reports a move recorded but not made on its new host', async () => {
    const { moves, onDown, failOn } = setup();
    failOn('b');
    const outcomes = await moves.moveAll(onDown(2), 'down', 'host down');
    expect(outcomes.map((o) => [o.to, o.error ? String(o.error) : undefined])).toEqual([
      ['b', 'Error: create failed'],
      ['c', undefined],
    ]);
  });
});
