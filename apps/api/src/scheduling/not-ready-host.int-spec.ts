import { BusTransport, InProcessBroker } from '@muelle/bus';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { basicAuth, createTestDatabase, eventually, getJson, waitReady } from '@muelle/testing';
// A host's readiness travels agent → metadata → api's scheduler: all three are started here, on one
// in-process bus (the all-in-one hosts them the same way).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { metadataConfigShape, startMetadata } from '@muelle/app-metadata';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { agentConfigShape, startAgent } from '@muelle/app-agent';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { apiConfigShape } from '../config';
import { startApi } from '../api.app';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ADMIN_PASSWORD = 'not-ready-int-secret';
jest.setTimeout(60_000);

describe('an agent that cannot make containers', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-not-ready-'));
  const transport: BusTransport = { kind: 'in-process', broker: new InProcessBroker() };
  const services: RunningService[] = [];
  let api: RunningService;
  let drop: () => Promise<void>;
  const admin = basicAuth('admin', ADMIN_PASSWORD);

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    services.push(
      await startMetadata(
        z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: join(dataDir, 'metadata'), DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: ADMIN_PASSWORD }),
        transport,
        logger,
        serviceInfo('metadata'),
      ),
    );
    // MUELLE_RUNTIME=disabled: the agent's own way of saying it cannot make containers, as with a
    // missing helper or an unusable cgroup hierarchy (the same not-ready path, other reasons).
    services.push(
      await startAgent(
        z.object(agentConfigShape).parse({ MUELLE_AGENT_PORT: '0', MUELLE_DATA_DIR: join(dataDir, 'agent'), MUELLE_HOST_ID: 'host-broken', MUELLE_RUNTIME: 'disabled' }),
        transport,
        logger,
        serviceInfo('agent'),
      ),
    );
    api = await startApi(z.object(apiConfigShape).parse({ MUELLE_API_PORT: '0', MUELLE_RECONCILE_SECONDS: '0' }), transport, logger, serviceInfo('api'));
    services.push(api);
    await waitReady(api.url);
  }, 90_000);

  afterAll(async () => {
    for (const service of services.reverse()) await service.close();
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers as not ready with the reason, and a run that can only go there is refused naming the host and the reason', async () => {
    const host = await eventually(async () => {
      const answer = await getJson(`${api.url}/v1/hosts/host-broken`, { headers: admin });
      if (answer.status !== 200) throw new Error(JSON.stringify(answer.body));
      return answer.body;
    });
    expect(host).toMatchObject({ state: 'ready', notReady: 'MUELLE_RUNTIME=disabled' });
    // An image of another registry: the api takes it as written (no registry runs here), so placement decides.
    const run = await getJson(`${api.url}/v1/containers`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ image: '127.0.0.1:9/busybox:latest' }) });
    expect(run.status).toBe(409);
    expect(run.body.error.message).toBe('no host can run this container: host-broken: cannot make containers: MUELLE_RUNTIME=disabled');
  });
});
