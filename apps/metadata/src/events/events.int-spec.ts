import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { listEvents, recordEvent, StoredPlatformEvent } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase } from '@muelle/testing';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Client } from 'pg';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';
import { EventsService, retentionBound } from './events.service';

describe('the event history in metadata (PostgreSQL)', () => {
  let running: RunningService;
  let bus: BusClient;
  let url: string;
  let drop: () => Promise<void>;
  const alpha = randomUUID();
  const beta = randomUUID();
  const event = (at: string, teamId: string | null, action = 'start', type: StoredPlatformEvent['type'] = 'container'): StoredPlatformEvent => ({
    type,
    action,
    id: `c-${action}`,
    teamId,
    at,
    attributes: { name: 'web', exitCode: 0, ok: true, gone: null },
    labels: { tier: 'front' },
  });

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    url = db.url;
    const broker = new InProcessBroker();
    // A count bound of 5 and an age bound of an hour, to see both apply.
    const config = z
      .object(metadataConfigShape)
      .parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-ev-')), DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: 'whatever-pw', MUELLE_EVENTS_KEEP_COUNT: '5', MUELLE_EVENTS_KEEP_SECONDS: '3600' });
    running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('lists a time window oldest first, scoped to a team (and the events of no team), by type', async () => {
    const base = Date.now() - 60_000;
    const at = (s: number) => new Date(base + s * 1000).toISOString();
    await bus.request(recordEvent, event(at(1), alpha, 'create'));
    await bus.request(recordEvent, event(at(2), beta, 'create'));
    await bus.request(recordEvent, event(at(3), null, 'cordon', 'host'));
    await bus.request(recordEvent, event(at(4), alpha, 'die'));
    const window = { since: at(0), until: at(10) };
    const all = await bus.request(listEvents, window);
    expect(all.items.map((e) => [e.action, e.teamId])).toEqual([
      ['create', alpha],
      ['create', beta],
      ['cordon', null],
      ['die', alpha],
    ]);
    expect(all.items[0]).toEqual(event(at(1), alpha, 'create'));
    expect((await bus.request(listEvents, { ...window, teamId: alpha })).items.map((e) => e.action)).toEqual(['create', 'cordon', 'die']);
    expect((await bus.request(listEvents, { ...window, teamId: alpha, types: ['container'] })).items.map((e) => e.action)).toEqual(['create', 'die']);
    expect((await bus.request(listEvents, { since: at(2), until: at(3) })).items.map((e) => e.action)).toEqual(['create', 'cordon']);
    // More than `limit` in the window: the newest ones.
    expect((await bus.request(listEvents, { ...window, limit: 2 })).items.map((e) => e.action)).toEqual(['cordon', 'die']);
  });

  it('keeps at most the configured count and nothing older than the configured age', async () => {
    const now = Date.now();
    const pg = new Client({ connectionString: url });
    await pg.connect();
    try {
      await pg.query('DELETE FROM platform_events');
      // Two events two hours old, then six recent ones: the age bound takes the first two, the count one more.
      for (let i = 0; i < 2; i++) await bus.request(recordEvent, event(new Date(now - 7_200_000 + i).toISOString(), alpha, `old${i}`));
      for (let i = 0; i < 6; i++) await bus.request(recordEvent, event(new Date(now - 60_000 + i * 1000).toISOString(), alpha, `new${i}`));
      const service = running.app.get(EventsService, { strict: false });
      expect(await service.prune(now)).toBe(3);
      const left = await bus.request(listEvents, { since: new Date(0).toISOString(), until: new Date(now + 1000).toISOString() });
      expect(left.items.map((e) => e.action)).toEqual(['new1', 'new2', 'new3', 'new4', 'new5']);
      expect(retentionBound({ MUELLE_EVENTS_KEEP_COUNT: 5, MUELLE_EVENTS_KEEP_SECONDS: 3600 }, now)).toEqual({ olderThan: new Date(now - 3_600_000), keep: 5 });
    } finally {
      await pg.end();
    }
  });

  it("keeps a service's update events, listed by their type", async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const update = { ...event(at, alpha, 'update', 'service'), attributes: { name: 'web', 'updatestate.old': 'updating', 'updatestate.new': 'rollback_started' } };
    await bus.request(recordEvent, update);
    await bus.request(recordEvent, event(at, alpha, 'start'));
    const window = { since: new Date(Date.parse(at) - 1000).toISOString(), until: new Date(Date.parse(at) + 1000).toISOString() };
    expect((await bus.request(listEvents, { ...window, types: ['service'] })).items).toEqual([update]);
  });
});
