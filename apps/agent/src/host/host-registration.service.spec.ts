import { ReadinessRegistry, type ServiceInfo } from '@muelle/service-kit';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BusClient } from '@muelle/bus';
import type { AgentConfig } from '../config';
import type { RuntimeLifecycle } from '../containers/runtime.service';
import { HostRegistrationService } from './host-registration.service';

/**
 * A host metadata refuses (or cannot reach) used to retry every second without a word: the e2e that
 * waited for it saw an agent with an empty log. Each new reason is logged once; a repeat is not.
 */
describe('HostRegistrationService', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-registration-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('logs why registration fails, once per reason, and that it succeeded at last', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const answers: Array<Error | null> = [new Error('bus request timed out'), new Error('bus request timed out'), new Error('metadata refused: no such team'), null];
      const bus = {
        request: jest.fn(async (_contract: unknown, body: { id: string }) => {
          const next = answers.shift();
          if (next) throw next;
          return { id: body.id, capacity: {} };
        }),
        emit: jest.fn(async () => undefined),
      };
      const logs: Array<[string, string]> = [];
      const logger = {
        warn: (_fields: unknown, message: string) => logs.push(['warn', message]),
        info: (_fields: unknown, message: string) => logs.push(['info', message]),
      } as unknown as Logger;
      const config = { MUELLE_HOST_ID: 'host-x', MUELLE_DATA_DIR: dataDir, MUELLE_MIN_FREE_BYTES: 0, MUELLE_HEARTBEAT_SECONDS: 5, MUELLE_HOST_ADDRESS: '127.0.0.1', MUELLE_HOST_LABELS: {} } as unknown as AgentConfig;
      const runtime = { notReadyReason: async () => null } as unknown as RuntimeLifecycle;
      const service = new HostRegistrationService(bus as unknown as BusClient, new ReadinessRegistry(), config, { version: 'test' } as ServiceInfo, logger, runtime);
      // One tick: its awaits (statfs is real I/O, the request) settle, then it sets its one-second retry.
      const turn = async (calls: number) => {
        for (let i = 0; i < 10_000 && !(bus.request.mock.calls.length >= calls && jest.getTimerCount() > 0); i++) await new Promise((resolve) => setImmediate(resolve));
        jest.advanceTimersByTime(1_000);
      };
      service.onApplicationBootstrap();
      for (let calls = 1; calls <= 4; calls++) await turn(calls);
      service.onModuleDestroy();
      expect(bus.request).toHaveBeenCalledTimes(4);
      expect(logs).toEqual([
        ['warn', 'registration failed; retrying every second'],
        ['warn', 'registration failed; retrying every second'],
        ['info', 'host registered'],
      ]);
    } finally {
      jest.useRealTimers();
    }
  });
});
