import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BusClient, createBusClientProxy, creditOf, CreditedSender, Frame, InProcessBroker, newStreamId, sendBytes, StreamEnd } from '@muelle/bus';
import { pack } from 'tar-stream';
import { BuildProgressEvent, BuildResult, getBuild, getBuildRecord, saveBuildRecord, startBuild } from '@muelle/contracts';
// Build records live in metadata: the builder is tested with the metadata service it saves them in.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { metadataConfigShape, startMetadata } from '@muelle/app-metadata';
import { serviceInfo, type RunningService } from '@muelle/service-kit';
import { createTestDatabase, eventually } from '@muelle/testing';
import { builderConfigShape, startBuilder } from '../src';
import { LocalRegistry, pullAndUnpack, seedBusybox, silentLogger, tempDir, writeTree } from './support';

// The builder service as deployed (Nest module, bus handlers, progress stream, records in
// metadata on PostgreSQL), real isolation.
jest.setTimeout(120_000);

describe('builder over the bus', () => {
  let registry: LocalRegistry;
  let running: RunningService;
  let metadata: RunningService;
  let dropDatabase: () => Promise<void>;
  let bus: BusClient;
  let broker: InProcessBroker;
  let config: z.output<z.ZodObject<typeof builderConfigShape>>;
  let dataDir: string;
  let contextDir: string;

  beforeAll(async () => {
    registry = await LocalRegistry.start();
    await seedBusybox(registry.client(), 'busybox');
    dataDir = tempDir('builder-bus');
    contextDir = tempDir('builder-bus-ctx');
    await writeTree(contextDir, { Dockerfile: 'FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo from-run && cat /hello.txt > /copy.txt\nCMD ["cat", "/copy.txt"]\n', 'hello.txt': 'hello\n' });
    broker = new InProcessBroker();
    const db = await createTestDatabase();
    dropDatabase = db.drop;
    const metadataConfig = z.object(metadataConfigShape).parse({ MUELLE_METADATA_PORT: '0', MUELLE_DATA_DIR: tempDir('builder-bus-metadata'), DATABASE_URL: db.url, MUELLE_ADMIN_PASSWORD: 'whatever-pw' });
    metadata = await startMetadata(metadataConfig, { kind: 'in-process', broker }, silentLogger, serviceInfo('metadata'));
    config = z.object(builderConfigShape).parse({ MUELLE_BUILDER_PORT: '0', MUELLE_DATA_DIR: dataDir, MUELLE_REGISTRY_ADDRESS: registry.host });
    running = await startBuilder(config, { kind: 'in-process', broker }, silentLogger, serviceInfo('builder'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
    await bus.connect();
  });

  afterAll(async () => {
    await running?.close();
    await metadata?.close();
    await dropDatabase?.();
    await registry?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
    await fs.rm(contextDir, { recursive: true, force: true });
  });

  it('streams steps and RUN output, ends with the result, and the pushed image pulls back', async () => {
    const streamId = newStreamId();
    const events: BuildProgressEvent[] = [];
    const final = new Promise<{ type: number; payload: unknown }>((resolve) => {
      const end = new StreamEnd(bus.streams(), streamId, 'client', (type, payload) => {
        if (type === Frame.Stdout) events.push(BuildProgressEvent.parse(JSON.parse(payload.toString('utf8'))));
        else if (type === Frame.Exit || type === Frame.Error) {
          end.close();
          resolve({ type, payload: JSON.parse(payload.toString('utf8')) });
        }
      });
    });
    const requestedBy = { username: 'alice', teamId: null };
    const accepted = await bus.request(startBuild, { context: { kind: 'directory', path: contextDir }, tags: ['demo/hello:v1'], requestedBy, progressStreamId: streamId });
    const outcome = await final;
    expect(outcome.type).toBe(Frame.Exit);
    const result = BuildResult.parse(outcome.payload);
    expect(result.buildId).toBe(accepted.buildId);
    expect(events.filter((e) => e.type === 'step').map((e) => (e as { instruction: string }).instruction)).toEqual([
      'FROM busybox',
      'COPY hello.txt /hello.txt',
      'RUN echo from-run && cat /hello.txt > /copy.txt',
      'CMD ["cat", "/copy.txt"]',
    ]);
    expect(events.some((e) => e.type === 'output' && e.data.includes('from-run'))).toBe(true);
    expect(events.some((e) => e.type === 'pushed' && e.digest === result.digest)).toBe(true);

    const record = await bus.request(getBuild, { buildId: accepted.buildId });
    expect(record).toMatchObject({ state: 'succeeded', result: { digest: result.digest } });
    // The same record, kept in metadata: who, state, steps, digests, when.
    const stored = await bus.request(getBuildRecord, { id: accepted.buildId });
    expect(stored).toEqual({ ...record, requestedBy: 'alice', teamId: null });
    expect(stored.result).toMatchObject({ steps: 4, configDigest: result.configDigest, pushed: [{ reference: 'demo/hello:v1', digest: result.digest }] });

    const image = await pullAndUnpack(registry.client(), 'demo/hello', 'v1');
    try {
      expect(await fs.readFile(join(image.rootfs, 'copy.txt'), 'utf8')).toBe('hello\n');
      expect(image.config.config.Cmd).toEqual(['cat', '/copy.txt']);
    } finally {
      await fs.rm(image.rootfs, { recursive: true, force: true });
    }
  });

  /** Streams a tar of `files` as the context of a build tagged `tag`, within the credit the builder grants. */
  async function streamedBuild(tag: string, files: Record<string, string | Buffer>) {
    const streamId = newStreamId();
    let granted = 0;
    let end: StreamEnd | undefined;
    let accepted: { buildId: string; builderId?: string } | undefined;
    const credit = new CreditedSender((type, payload) => end?.send(type, payload));
    const outcome = await new Promise<{ type: number; payload: unknown }>((resolve, reject) => {
      end = new StreamEnd(bus.streams(), streamId, 'client', (type, payload) => {
        if (type === Frame.Credit) {
          granted += creditOf(payload);
          credit.grant(creditOf(payload));
        } else if (type === Frame.Exit || type === Frame.Error) {
          end?.close();
          credit.release();
          resolve({ type, payload: JSON.parse(payload.toString('utf8')) });
        }
      });
      void (async () => {
        accepted = await bus.request(startBuild, { context: { kind: 'stream' }, tags: [tag], progressStreamId: streamId });
        const tar = pack();
        for (const [name, content] of Object.entries(files)) tar.entry({ name }, content);
        tar.finalize();
        await sendBytes(credit, tar as AsyncIterable<Uint8Array>);
      })().catch(reject);
    });
    return { outcome, granted, accepted: accepted! };
  }

  it('takes a context streamed on the progress stream, within the credit it grants', async () => {
    const { outcome, granted } = await streamedBuild('demo/streamed:v1', {
      Dockerfile: 'FROM busybox\nCOPY big.bin /big.bin\nRUN wc -c /big.bin > /size.txt\n',
      'big.bin': Buffer.alloc(3 * 1024 * 1024 + 7, 1),
    });
    expect(outcome.type).toBe(Frame.Exit);
    // Credit came in steps as bytes reached the builder's disk, not all at once.
    expect(granted).toBeGreaterThan(3 * 1024 * 1024);
    const image = await pullAndUnpack(registry.client(), 'demo/streamed', 'v1');
    try {
      expect((await fs.readFile(join(image.rootfs, 'size.txt'), 'utf8')).trim()).toMatch(/^3145735\b/);
    } finally {
      await fs.rm(image.rootfs, { recursive: true, force: true });
    }
  });

  it('runs as several replicas with nothing shared but the bus: concurrent streamed builds each reach the replica that took them', async () => {
    // A second builder with its own data folder, as on another machine; the bus hands requests round robin.
    const second = await startBuilder({ ...config, MUELLE_DATA_DIR: tempDir('builder-bus-second') }, { kind: 'in-process', broker }, silentLogger, serviceInfo('builder'));
    try {
      const builds = await Promise.all(
        ['one', 'two', 'three', 'four'].map((word) =>
          streamedBuild(`demo/replicas:${word}`, { Dockerfile: 'FROM busybox\nCOPY word.txt /word.txt\nRUN cat /word.txt > /copy.txt\n', 'word.txt': `${word}\n` }),
        ),
      );
      for (const { outcome } of builds) expect(outcome).toMatchObject({ type: Frame.Exit });
      expect(new Set(builds.map((b) => b.accepted.builderId)).size).toBe(2);
      for (const word of ['one', 'two', 'three', 'four']) {
        const image = await pullAndUnpack(registry.client(), 'demo/replicas', word);
        try {
          expect(await fs.readFile(join(image.rootfs, 'copy.txt'), 'utf8')).toBe(`${word}\n`);
        } finally {
          await fs.rm(image.rootfs, { recursive: true, force: true });
        }
      }
    } finally {
      await second.close();
    }
  });

  it("keeps a failed build's error in metadata", async () => {
    const broken = tempDir('builder-bus-broken');
    await writeTree(broken, { Dockerfile: 'FROM busybox\nRUN exit 3\n' });
    const { buildId } = await bus.request(startBuild, { context: { kind: 'directory', path: broken }, tags: [] });
    const stored = await eventually(async () => {
      const record = await bus.request(getBuildRecord, { id: buildId });
      if (record.state === 'running') throw new Error('still running');
      return record;
    });
    expect(stored).toMatchObject({ state: 'failed', requestedBy: 'system', error: { details: { kind: 'run-failed', exitCode: 3 } } });
    expect(stored.finishedAt).toBeDefined();
  });

  it('marks the builds a killed builder was running failed when it starts again', async () => {
    // What a builder killed mid-build leaves behind: its record still says running.
    const builderId = (await fs.readFile(join(dataDir, 'builder', 'builder-id'), 'utf8')).trim();
    const orphan = { id: 'deadbeef00000001', state: 'running' as const, tags: ['demo/lost:v1'], requestedBy: 'alice', teamId: null, startedAt: new Date().toISOString() };
    await bus.request(saveBuildRecord, { ...orphan, builderId });
    await running.close();
    running = await startBuilder(config, { kind: 'in-process', broker }, silentLogger, serviceInfo('builder'));
    const stored = await eventually(async () => {
      const record = await bus.request(getBuildRecord, { id: orphan.id });
      if (record.state === 'running') throw new Error('still running');
      return record;
    });
    expect(stored).toMatchObject({ state: 'failed', error: { code: 'UNAVAILABLE', message: 'the builder stopped while this build was running' } });
  });

  it('refuses a streamed context without a progress stream', async () => {
    await expect(bus.request(startBuild, { context: { kind: 'stream' }, tags: [] })).rejects.toThrow(/progressStreamId/);
  });
});
