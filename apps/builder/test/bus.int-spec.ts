import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BusClient, createBusClientProxy, CreditGate, creditOf, Frame, InProcessBroker, newStreamId, sendBytes, StreamEnd } from '@muelle/bus';
import { pack } from 'tar-stream';
import { BuildProgressEvent, BuildResult, getBuild, startBuild } from '@muelle/contracts';
import { serviceInfo, type RunningService } from '@muelle/service-kit';
import { builderConfigShape, startBuilder } from '../src';
import { LocalRegistry, pullAndUnpack, seedBusybox, silentLogger, tempDir, writeTree } from './support';

// The builder service as deployed (Nest module, bus handlers, progress stream), real isolation.
jest.setTimeout(120_000);

describe('builder over the bus', () => {
  let registry: LocalRegistry;
  let running: RunningService;
  let bus: BusClient;
  let dataDir: string;
  let contextDir: string;

  beforeAll(async () => {
    registry = await LocalRegistry.start();
    await seedBusybox(registry.client(), 'busybox');
    dataDir = tempDir('builder-bus');
    contextDir = tempDir('builder-bus-ctx');
    await writeTree(contextDir, { Dockerfile: 'FROM busybox\nCOPY hello.txt /hello.txt\nRUN echo from-run && cat /hello.txt > /copy.txt\nCMD ["cat", "/copy.txt"]\n', 'hello.txt': 'hello\n' });
    const broker = new InProcessBroker();
    const config = z.object(builderConfigShape).parse({ MUELLE_BUILDER_PORT: '0', MUELLE_DATA_DIR: dataDir, MUELLE_REGISTRY_ADDRESS: registry.host });
    running = await startBuilder(config, { kind: 'in-process', broker }, silentLogger, serviceInfo('builder'));
    bus = new BusClient(createBusClientProxy({ kind: 'in-process', broker }, 'test'));
    await bus.connect();
  });

  afterAll(async () => {
    await running?.close();
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
    const accepted = await bus.request(startBuild, { context: { kind: 'directory', path: contextDir }, tags: ['demo/hello:v1'], progressStreamId: streamId });
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

    const image = await pullAndUnpack(registry.client(), 'demo/hello', 'v1');
    try {
      expect(await fs.readFile(join(image.rootfs, 'copy.txt'), 'utf8')).toBe('hello\n');
      expect(image.config.config.Cmd).toEqual(['cat', '/copy.txt']);
    } finally {
      await fs.rm(image.rootfs, { recursive: true, force: true });
    }
  });

  it('takes a context streamed on the progress stream, within the credit it grants', async () => {
    const streamId = newStreamId();
    const credit = new CreditGate();
    let granted = 0;
    const final = new Promise<{ type: number; payload: unknown }>((resolve) => {
      const end = new StreamEnd(bus.streams(), streamId, 'client', (type, payload) => {
        if (type === Frame.Credit) {
          granted += creditOf(payload);
          credit.grant(creditOf(payload));
        } else if (type === Frame.Exit || type === Frame.Error) {
          end.close();
          credit.fail(new Error('ended'));
          resolve({ type, payload: JSON.parse(payload.toString('utf8')) });
        }
      });
      void (async () => {
        await bus.request(startBuild, { context: { kind: 'stream' }, tags: ['demo/streamed:v1'], progressStreamId: streamId });
        const tar = pack();
        tar.entry({ name: 'Dockerfile' }, 'FROM busybox\nCOPY big.bin /big.bin\nRUN wc -c /big.bin > /size.txt\n');
        tar.entry({ name: 'big.bin' }, Buffer.alloc(3 * 1024 * 1024 + 7, 1));
        tar.finalize();
        await sendBytes(end, tar as AsyncIterable<Uint8Array>, credit);
      })();
    });
    const outcome = await final;
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

  it('refuses a streamed context without a progress stream', async () => {
    await expect(bus.request(startBuild, { context: { kind: 'stream' }, tags: [] })).rejects.toThrow(/progressStreamId/);
  });
});
