import type { BusClient } from '@muelle/bus';
import { NotFoundError, PayloadOf, dockerSessionSignal } from '@muelle/contracts';
import pino from 'pino';
import type { RequestPrincipal } from '../auth/principal';
import type { ContainersService, ContainerView } from '../containers/containers.service';
import type { StreamSession } from '../containers/stream-session';
import { DOCKER_AUTO_REMOVE_LABEL } from './containers.mapping';
import { DockerSessions } from './sessions';

const ID = 'a'.repeat(64);
const principal = { user: { id: 'u1', username: 'ana', role: 'admin' } } as unknown as RequestPrincipal;
const view = (labels: Record<string, string> = {}) => ({ id: ID, state: 'created', spec: { labels } }) as unknown as ContainerView;

/** Two api replicas whose signals reach both (as an everyReplica subscription does), and the container record they share. */
function twoReplicas() {
  let removed = false;
  const containers = {
    wait: jest.fn(async () => ({ exitCode: 3 })),
    get: jest.fn(async () => {
      if (removed) throw new NotFoundError(`no such container: ${ID}`);
      return view();
    }),
    remove: jest.fn(async () => void (removed = true)),
  } as unknown as ContainersService;
  const replicas: DockerSessions[] = [];
  const sent: Array<PayloadOf<typeof dockerSessionSignal>> = [];
  const bus = {
    emit: jest.fn(async (_event: unknown, signal: PayloadOf<typeof dockerSessionSignal>) => {
      sent.push(signal);
      for (const replica of replicas) replica.onSignal(signal);
    }),
  } as unknown as BusClient;
  replicas.push(new DockerSessions(containers, bus, pino({ level: 'silent' })), new DockerSessions(containers, bus, pino({ level: 'silent' })));
  return { a: replicas[0], b: replicas[1], containers, sent, remove: () => (removed = true) };
}

describe('DockerSessions across api replicas', () => {
  it('wakes an attach waiting on one replica when the start reaches another, once, as the attaching client', async () => {
    const { a, b } = twoReplicas();
    const woken: Array<[RequestPrincipal | undefined, string]> = [];
    a.onNextStart(ID, (starter, at) => woken.push([starter, at]));
    await b.started(principal, view(), '2026-12-04T03:00:00.000Z');
    expect(woken).toEqual([[undefined, '2026-12-04T03:00:00.000Z']]);
    await b.started(principal, view(), '2026-12-04T03:00:01.000Z');
    expect(woken).toHaveLength(1);
  });

  it('gives the starter to an attach on the same replica, and does not wake it twice through its own signal', async () => {
    const { a } = twoReplicas();
    const woken: Array<RequestPrincipal | undefined> = [];
    a.onNextStart(ID, (starter) => woken.push(starter));
    await a.started(principal, view(), '2026-12-04T03:00:00.000Z');
    expect(woken).toEqual([principal]);
  });

  it('resizes a terminal session held by another replica, and not one of another key', async () => {
    const { a, b } = twoReplicas();
    const held = { resize: jest.fn() } as unknown as StreamSession;
    const other = { resize: jest.fn() } as unknown as StreamSession;
    a.addResizable(ID, held);
    a.addResizable('exec-1', other);
    await b.resize(ID, 33, 77);
    expect(held.resize).toHaveBeenCalledTimes(1);
    expect(held.resize).toHaveBeenCalledWith(33, 77);
    expect(other.resize).not.toHaveBeenCalled();
  });

  it('answers a wait for removal on one replica when another started the --rm container and removed it', async () => {
    const { a, b, containers } = twoReplicas();
    const auto = view({ [DOCKER_AUTO_REMOVE_LABEL]: 'true' });
    const waited = a.waitRemoved(principal, auto);
    await b.started(principal, auto, '2026-12-04T03:00:00.000Z');
    await expect(waited).resolves.toBe(3);
    expect(containers.remove).toHaveBeenCalledTimes(1);
  });

  it('still answers a local wait for removal from its own removal', async () => {
    const { a, containers } = twoReplicas();
    const auto = view({ [DOCKER_AUTO_REMOVE_LABEL]: 'true' });
    const waited = a.waitRemoved(principal, auto);
    await a.started(principal, auto, '2026-12-04T03:00:00.000Z');
    await expect(waited).resolves.toBe(3);
    expect(containers.remove).toHaveBeenCalledTimes(1);
  });
});
