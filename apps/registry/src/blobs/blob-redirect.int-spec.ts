import { BusClient, BusTransport, createBusClientProxy, InProcessBroker } from '@muelle/bus';
import { createTeam, createUser } from '@muelle/contracts';
import { RunningService, serviceInfo } from '@muelle/service-kit';
import { startS3Server, type RunningS3Server } from '@muelle/storage';
import { createTestDatabase } from '@muelle/testing';
// Pulls are authorized with what metadata knows (teams, users).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { metadataConfigShape, startMetadata } from '@muelle/app-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { registryEmbeddedConfigSchema } from '../config';
import { RunningRegistry, startRegistry } from '../registry.app';
import { randomBlob, RegistryClient, sha256 } from '../testing/oci-test-client';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
jest.setTimeout(60_000);

const ADMIN = { username: 'admin', password: 'redirect-admin-secret' };
const BETA_DEV = { username: 'beta-dev', password: 'beta-dev-secret' };

/** MUELLE_REGISTRY_S3_REDIRECT: blob GETs become a 307 to a short-lived presigned URL, only once the pull is allowed. */
describe('registry blob GET redirect to presigned S3 URLs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'muelle-registry-redirect-'));
  const transport: BusTransport = { kind: 'in-process', broker: new InProcessBroker() };
  let metadata: RunningService;
  let registry: RunningRegistry;
  let s3: RunningS3Server;
  let drop: () => Promise<void>;
  const layer = randomBlob(300_000);
  const digest = sha256(layer);

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    s3 = await startS3Server();
    metadata = await startMetadata(
      z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: dataDir, DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: ADMIN.password }),
      transport,
      logger,
      serviceInfo('metadata'),
    );
    const bus = new BusClient(createBusClientProxy(transport, 'test'));
    await bus.request(createTeam, { name: 'alpha' });
    const beta = await bus.request(createTeam, { name: 'beta' });
    await bus.request(createUser, { ...BETA_DEV, role: 'member', teamId: beta.id });
    const config = registryEmbeddedConfigSchema.parse({
      MUELLE_REGISTRY_PORT: '0',
      MUELLE_DATA_DIR: dataDir,
      MUELLE_REGISTRY_GC_INTERVAL_SECONDS: '0',
      MUELLE_STORAGE_DRIVER: 's3',
      S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_BUCKET: 'registry-redirect',
      MUELLE_REGISTRY_S3_REDIRECT: 'true',
      MUELLE_REGISTRY_S3_REDIRECT_SECONDS: '45',
    });
    registry = await startRegistry(config, transport, logger, serviceInfo('registry'));
    expect((await new RegistryClient(registry.url, ADMIN).pushBlob('alpha/app', layer)).status).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await registry?.close();
    await metadata?.close();
    await s3?.stop();
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers an allowed GET with a 307 to a presigned URL that serves the bytes and ranges', async () => {
    const admin = new RegistryClient(registry.url, ADMIN);
    const got = await admin.request('GET', `/v2/alpha/app/blobs/${digest}`);
    expect(got.status).toBe(307);
    const location = new URL(got.header('location')!);
    expect(location.port).toBe(String(s3.port));
    expect(location.searchParams.get('X-Amz-Expires')).toBe('45');
    expect(Buffer.from(await (await fetch(location)).arrayBuffer()).equals(layer)).toBe(true);

    const ranged = await fetch(location, { headers: { range: 'bytes=1000-1999' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(layer.subarray(1000, 2000))).toBe(true);

    // HEAD stays on the registry: it proves the bytes and needs no second hop.
    const head = await admin.request('HEAD', `/v2/alpha/app/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.header('content-length')).toBe(String(layer.length));
  });

  it('hands no URL to callers the pull is not allowed for', async () => {
    const anonymous = await fetch(`${registry.url}/v2/alpha/app/blobs/${digest}`, { redirect: 'manual' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('location')).toBeNull();
    const otherTeam = await new RegistryClient(registry.url, BETA_DEV).request('GET', `/v2/alpha/app/blobs/${digest}`);
    expect([401, 403]).toContain(otherTeam.status);
    expect(otherTeam.header('location')).toBeUndefined();
  });

  it('gives no URL for a blob the repository does not hold', async () => {
    const missing = await new RegistryClient(registry.url, ADMIN).request('GET', `/v2/alpha/app/blobs/${sha256(Buffer.from('absent'))}`);
    expect(missing.status).toBe(404);
    expect(missing.header('location')).toBeUndefined();
  });

  it('refuses the redirect without the S3 driver', () => {
    expect(() => registryEmbeddedConfigSchema.parse({ MUELLE_REGISTRY_S3_REDIRECT: 'true' })).toThrow(/MUELLE_REGISTRY_S3_REDIRECT.*|needs MUELLE_STORAGE_DRIVER=s3/);
  });
});
