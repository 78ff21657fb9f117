import type { ContainerHealthChange } from '@muelle/contracts';
import pino from 'pino';
import { HealthMonitor } from './health-monitor';
import { ResolvedHealthcheck } from './healthcheck-config';
import type { HealthStore, SavedHealth } from './health-store';

/** The store a restarted agent would read: what one monitor saved, the next one loads. */
function memoryStore(): HealthStore & { saved: Map<string, SavedHealth> } {
  const saved = new Map<string, SavedHealth>();
  return { saved, load: (id) => saved.get(id), save: (id, state) => void saved.set(id, structuredClone(state)) };
}

const ID = 'a'.repeat(64);
const check = (over: Partial<ResolvedHealthcheck> = {}): ResolvedHealthcheck => ({ test: ['CMD', 'probe'], intervalMs: 1000, timeoutMs: 500, startPeriodMs: 0, retries: 2, ...over });

/** Probes answer from a script of exit codes; fake timers drive the intervals. */
function setup(exitCodes: number[], store?: HealthStore) {
  const events: ContainerHealthChange[] = [];
  const probes: string[][] = [];
  let now = 1_000_000;
  const monitor = new HealthMonitor({
    hostId: 'host-a',
    probe: async (_id, args) => {
      probes.push(args);
      const exitCode = exitCodes.shift() ?? 0;
      return { exitCode, output: `exit ${exitCode}` };
    },
    emit: (change) => events.push(change),
    logger: pino({ level: 'silent' }),
    store,
    now: () => now,
  });
  const tick = async (ms: number) => {
    now += ms;
    await jest.advanceTimersByTimeAsync(ms);
  };
  return { monitor, events, probes, tick };
}

describe('HealthMonitor', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('starts at starting, turns healthy on a success and unhealthy after `retries` failures in a row', async () => {
    const { monitor, events, probes, tick } = setup([0, 1, 1]);
    monitor.started(ID, check({ test: ['CMD-SHELL', 'test -f /ok'] }));
    expect(events.map((e) => e.status)).toEqual(['starting']);
    await tick(1000);
    expect(probes[0]).toEqual(['/bin/sh', '-c', 'test -f /ok']);
    expect(monitor.healthOf(ID)?.status).toBe('healthy');
    await tick(1000);
    expect(monitor.healthOf(ID)).toMatchObject({ status: 'healthy', failingStreak: 1 });
    await tick(1000);
    expect(monitor.healthOf(ID)).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
    expect(events.map((e) => e.status)).toEqual(['starting', 'healthy', 'unhealthy']);
    expect(events[2]).toMatchObject({ id: ID, hostId: 'host-a', failingStreak: 2 });
    expect(monitor.healthOf(ID)?.log.map((p) => p.exitCode)).toEqual([0, 1, 1]);
  });

  it('does not count failures inside the start period, and a success there is healthy at once', async () => {
    const { monitor, tick } = setup([1, 1, 1, 0]);
    monitor.started(ID, check({ startPeriodMs: 3500, retries: 1 }));
    await tick(3000);
    expect(monitor.healthOf(ID)).toMatchObject({ status: 'starting', failingStreak: 0 });
    await tick(1000);
    expect(monitor.healthOf(ID)?.status).toBe('healthy');
  });

  it('keeps the last five probes, stops probing when the container stops and starts over at the next start', async () => {
    const { monitor, probes, tick } = setup([]);
    monitor.started(ID, check());
    await tick(7000);
    expect(monitor.healthOf(ID)?.log).toHaveLength(5);
    monitor.stopped(ID);
    const count = probes.length;
    await tick(5000);
    expect(probes).toHaveLength(count);
    expect(monitor.healthOf(ID)?.status).toBe('healthy');
    monitor.started(ID, check());
    expect(monitor.healthOf(ID)).toMatchObject({ status: 'starting', log: [] });
    monitor.forget(ID);
    expect(monitor.healthOf(ID)).toBeUndefined();
  });

  it('counts a probe that could not run as a failure with its reason', async () => {
    const events: ContainerHealthChange[] = [];
    const monitor = new HealthMonitor({
      hostId: 'host-a',
      probe: async () => {
        throw new Error('container is not running');
      },
      emit: (change) => events.push(change),
      logger: pino({ level: 'silent' }),
    });
    monitor.started(ID, check({ retries: 1 }));
    await jest.advanceTimersByTimeAsync(1000);
    expect(monitor.healthOf(ID)).toMatchObject({ status: 'unhealthy', log: [{ exitCode: -1, output: 'container is not running' }] });
    monitor.close();
  });

  it('a restarted agent goes on with the saved state of the same start: status, streak, log, no new event', async () => {
    const store = memoryStore();
    const first = setup([0, 1], store);
    first.monitor.started(ID, check({ retries: 2 }), '2026-12-04T10:00:00.000Z');
    await first.tick(2000);
    expect(first.monitor.healthOf(ID)).toMatchObject({ status: 'healthy', failingStreak: 1 });
    first.monitor.close();

    // The next agent re-adopts the container: one more failure makes it unhealthy (the streak was kept).
    const second = setup([1], store);
    second.monitor.started(ID, check({ retries: 2 }), '2026-12-04T10:00:00.000Z');
    expect(second.monitor.healthOf(ID)).toMatchObject({ status: 'healthy', failingStreak: 1, log: [{ exitCode: 0 }, { exitCode: 1 }] });
    expect(second.events).toEqual([]);
    await second.tick(1000);
    expect(second.monitor.healthOf(ID)).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
    expect(second.events.map((e) => e.status)).toEqual(['unhealthy']);
    expect(store.saved.get(ID)?.log).toHaveLength(3);
    second.monitor.close();

    // A new start of the container begins again, whatever was saved.
    const third = setup([], store);
    third.monitor.started(ID, check(), '2026-12-04T11:00:00.000Z');
    expect(third.monitor.healthOf(ID)).toMatchObject({ status: 'starting', failingStreak: 0, log: [] });
    expect(third.events.map((e) => e.status)).toEqual(['starting']);
    third.monitor.close();
  });

  it('keeps the state of the same start across a pause in one agent', async () => {
    const { monitor, events, tick } = setup([1]);
    monitor.started(ID, check({ retries: 3 }), '2026-12-04T10:00:00.000Z');
    await tick(1000);
    monitor.stopped(ID);
    monitor.started(ID, check({ retries: 3 }), '2026-12-04T10:00:00.000Z');
    expect(monitor.healthOf(ID)).toMatchObject({ status: 'starting', failingStreak: 1, log: [{ exitCode: 1 }] });
    expect(events.map((e) => e.status)).toEqual(['starting']);
    monitor.close();
  });
});
