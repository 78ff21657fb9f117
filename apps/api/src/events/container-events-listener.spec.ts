import type { BusClient } from '@muelle/bus';
import { ContainerRecord, ContainerSpec, deleteContainerRecord, getContainer } from '@muelle/contracts';
import type { Logger } from 'pino';
import type { ContainerMoves } from '../containers/container-moves';
import type { VolumesService } from '../volumes/volumes.service';
import type { EventHub } from './event-hub';
import { ContainerEventsListener } from './events.controller';

/** An agent's `dead` (it removed the container itself): the record goes, and with `--rm` its anonymous volumes. */
describe('ContainerEventsListener on an auto-removed container', () => {
  const id = 'a'.repeat(64);
  const record = (autoRemove: boolean) =>
    ({ id, name: 'job', hostId: 'host-a', teamId: null, image: 'busybox', spec: ContainerSpec.parse({ image: 'busybox', autoRemove, volumes: [{ kind: 'volume', source: 'b'.repeat(64), target: '/data' }] }) }) as unknown as ContainerRecord;

  const listen = (current: ContainerRecord) => {
    const requests: string[] = [];
    const bus = {
      request: async (contract: { subject: string }) => {
        requests.push(contract.subject);
        return contract.subject === getContainer.subject ? current : {};
      },
    } as unknown as BusClient;
    const hub = { publish: () => undefined, publishDestroyOnce: () => undefined } as unknown as EventHub;
    const moves = { isMoving: () => false } as unknown as ContainerMoves;
    const removed: Array<[unknown, unknown]> = [];
    const volumes = { removeAnonymousOf: async (principal: unknown, container: unknown) => void removed.push([principal, container]) } as unknown as VolumesService;
    const listener = new ContainerEventsListener(bus, hub, moves, { warn: () => undefined } as unknown as Logger, volumes);
    return { listener, requests, removed };
  };
  const dead = { id, hostId: 'host-a', state: 'dead' as const, at: '2026-12-04T15:00:00.000Z' };

  it('removes the anonymous volumes of a --rm container its agent removed', async () => {
    const { listener, requests, removed } = listen(record(true));
    await listener.onStateChanged(dead);
    expect(requests).toContain(deleteContainerRecord.subject);
    expect(removed).toEqual([[null, record(true)]]);
  });

  it('keeps them when the container was not --rm (a plain rm racing the api keeps them, as dockerd)', async () => {
    const { listener, removed } = listen(record(false));
    await listener.onStateChanged(dead);
    expect(removed).toEqual([]);
  });
});
