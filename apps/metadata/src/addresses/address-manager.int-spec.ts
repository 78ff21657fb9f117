import { BusClient, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { allocateHostSubnet, cidrsOverlap, ConflictError, InvalidMessageError } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { createTestDatabase } from '@muelle/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { metadataConfigShape } from '../config';
import { startMetadata } from '../metadata.app';

/** The address manager over the bus, on a real PostgreSQL database of its own. */
describe('address manager: default-bridge subnets per host', () => {
  let running: RunningService;
  let bus: BusClient;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const broker = new InProcessBroker();
    const db = await createTestDatabase();
    drop = db.drop;
    const config = z
      .object(metadataConfigShape)
      .parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: mkdtempSync(join(tmpdir(), 'muelle-ipam-')), MUELLE_ADMIN_PASSWORD: 'correct-horse', DATABASE_URL: db.url });
    running = await startMetadata(config, { kind: 'in-process', broker }, pino({ level: 'silent' }), serviceInfo('metadata'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    await drop?.();
  });

  it('gives each host its own /24 of 10.89.0.0/16 and the same one when it asks again', async () => {
    const a = await bus.request(allocateHostSubnet, { hostId: 'host-a', avoid: [] });
    const b = await bus.request(allocateHostSubnet, { hostId: 'host-b', avoid: [] });
    expect(a.subnet).toBe('10.89.0.0/24');
    expect(b.subnet).toBe('10.89.1.0/24');
    expect(await bus.request(allocateHostSubnet, { hostId: 'host-a', avoid: [], preferred: '10.89.7.0/24' })).toEqual(a);
  });

  it('skips what the host routes elsewhere and grants a preferred subnet only when nobody holds it', async () => {
    const c = await bus.request(allocateHostSubnet, { hostId: 'host-c', avoid: ['10.89.2.0/23', '192.168.1.5/32'] });
    expect(c.subnet).toBe('10.89.4.0/24');
    expect(await bus.request(allocateHostSubnet, { hostId: 'host-d', preferred: '172.31.9.0/24', avoid: [] })).toEqual({ subnet: '172.31.9.0/24' });
    // host-a holds 10.89.0.0/24: another host preferring it gets the next free one.
    expect(await bus.request(allocateHostSubnet, { hostId: 'host-e', preferred: '10.89.0.0/24', avoid: [] })).toEqual({ subnet: '10.89.2.0/24' });
  });

  it('30 hosts asking at once get 30 subnets, no two overlapping', async () => {
    const hosts = Array.from({ length: 30 }, (_, i) => `race-${i}`);
    const subnets = (await Promise.all(hosts.map((hostId) => bus.request(allocateHostSubnet, { hostId, avoid: [] })))).map((r) => r.subnet);
    expect(new Set(subnets).size).toBe(30);
    for (const s of subnets) for (const t of subnets) if (s !== t) expect(cidrsOverlap(s, t)).toBe(false);
  });

  it('refuses a malformed subnet and says so when the pool is exhausted', async () => {
    await expect(bus.request(allocateHostSubnet, { hostId: 'host-x', preferred: '10.89.300.0/24', avoid: [] })).rejects.toThrow(InvalidMessageError);
    await expect(bus.request(allocateHostSubnet, { hostId: 'host-full', avoid: ['10.89.0.0/16'] })).rejects.toThrow(ConflictError);
    await expect(bus.request(allocateHostSubnet, { hostId: 'host-full', avoid: ['10.89.0.0/16'] })).rejects.toThrow(/no free \/24 left in 10\.89\.0\.0\/16 for host host-full/);
  });
});
