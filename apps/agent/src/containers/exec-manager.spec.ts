import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { detachError } from '@muelle/contracts';
import { creditOf, CreditedSender, creditPayload, Frame, InProcessBroker, inProcessStreams, newStreamId, readyPayload, setStreamLiveness, StreamEnd, streamLiveness, STREAM_WINDOW_BYTES } from '@muelle/bus';
import type { IsolationDriver, RunningProcess } from '@muelle/isolation';
import type { ContainerRuntime } from './container-runtime';
import { ExecManager } from './exec-manager';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CHUNK = 16 * 1024;

/** An exec'd process that prints without end (until `finish`) and reads its stdin slowly. */
function floodingProcess() {
  let produced = 0;
  let finished = false;
  const stdout = new Readable({
    highWaterMark: CHUNK,
    // Each chunk on a later turn of the event loop, as a pipe's reads come.
    read() {
      setImmediate(() => {
        if (finished) return void this.push(null);
        produced += CHUNK;
        this.push(Buffer.alloc(CHUNK, 'y'));
      });
    },
  });
  const input: Buffer[] = [];
  const stdin = new Writable({
    highWaterMark: CHUNK,
    write(chunk: Buffer, _encoding, callback) {
      input.push(chunk);
      setTimeout(callback, 1);
    },
  });
  let exit!: (status: { exitCode: number }) => void;
  const exited = new Promise<{ exitCode: number }>((resolve) => (exit = resolve));
  const proc = { pid: 4242, stdin, stdout, stderr: null, tty: false, wait: () => exited, signal: () => undefined, resize: () => undefined, closeStdin: () => undefined };
  return {
    proc: proc as unknown as RunningProcess,
    produced: () => produced,
    input: () => Buffer.concat(input),
    finish: () => {
      finished = true;
      exit({ exitCode: 0 });
    },
  };
}

function setup() {
  const fake = floodingProcess();
  const runtime = {
    isRunning: () => true,
    get: () => ({ id: 'c1', state: 'running', initPid: 4242, env: [], workingDir: '/', user: { uid: 0, gid: 0, additionalGids: [] }, spec: {} }),
    rootView: () => undefined,
    cgroupPaths: () => [],
  } as unknown as ContainerRuntime;
  const driver = { exec: async () => fake.proc } as unknown as IsolationDriver;
  const transport = inProcessStreams(new InProcessBroker());
  const manager = new ExecManager(runtime, driver, () => transport);
  return { fake, manager, transport, runtime, driver };
}

describe('an exec whose caller died before its Ready', () => {
  const saved = streamLiveness();
  afterEach(() => setStreamLiveness(saved));

  it('drains the process once the caller is silent, and records its exit without waiting for the Ready', async () => {
    setStreamLiveness({ keepAliveMs: 20, silenceMs: 100 });
    const { fake, manager, transport } = setup();
    const { execId } = manager.create({ containerId: 'c1', cmd: ['yes'], env: [], tty: false, attachStdin: false });
    const streamId = newStreamId();
    // The caller subscribed, asked for the start and died: no Ready, no keep-alive after this.
    const client = new StreamEnd(transport, streamId, 'client', () => undefined);
    client.close();
    await manager.start({ execId, streamId });
    const before = fake.produced();
    await tick(400);
    // Silence noticed: the output is read and dropped, so the process is not blocked on its pipe.
    expect(fake.produced()).toBeGreaterThan(before + 4 * CHUNK);
    fake.finish();
    await tick(100);
    expect(manager.inspect(execId)).toMatchObject({ running: false, exitCode: 0 });
  });
});

describe('an exec stream on a broker that has not yet taken its subscription', () => {
  it('answers the start only once the broker delivers to its end (so the caller’s Ready is not lost)', async () => {
    const { fake, transport, runtime, driver } = setup();
    // NATS: the subscription travels on one connection and the answer on another (StreamEnd.subscribed).
    let settle!: () => void;
    const slow = { ...transport, settled: () => new Promise<void>((resolve) => (settle = resolve)) };
    const slowManager = new ExecManager(runtime, driver, () => slow);
    const { execId } = slowManager.create({ containerId: 'c1', cmd: ['yes'], env: [], tty: false, attachStdin: false });
    let answered = false;
    const started = slowManager.start({ execId, streamId: newStreamId() }).then(() => (answered = true));
    await tick(50);
    expect(answered).toBe(false);
    settle();
    await started;
    expect(answered).toBe(true);
    fake.finish();
  });
});

describe('exec streams within the caller’s credit', () => {
  it('stops reading the process’s output when the window is used up, and reads on when credit comes', async () => {
    const { fake, manager, transport } = setup();
    const { execId } = manager.create({ containerId: 'c1', cmd: ['yes'], env: [], tty: false, attachStdin: false });
    const streamId = newStreamId();
    let received = 0;
    let exited = false;
    const client = new StreamEnd(transport, streamId, 'client', (type, payload) => {
      if (type === Frame.Stdout) received += payload.length;
      if (type === Frame.Exit) exited = true;
    });
    await manager.start({ execId, streamId });
    await tick(100);
    // Nothing is read before Ready: the process waits on its pipe.
    expect(received).toBe(0);
    expect(fake.produced()).toBeLessThanOrEqual(2 * CHUNK);

    const window = 256 * 1024;
    client.send(Frame.Ready, readyPayload(window));
    await tick(200);
    expect(received).toBe(window);
    const producedAtWindow = fake.produced();
    // What was read beyond the window is one chunk in hand plus the stream's own buffer, no more.
    expect(producedAtWindow).toBeLessThanOrEqual(window + 4 * CHUNK);
    await tick(200);
    expect(fake.produced()).toBe(producedAtWindow);

    client.send(Frame.Credit, creditPayload(window));
    await tick(200);
    expect(received).toBe(2 * window);
    expect(fake.produced()).toBeGreaterThan(producedAtWindow);

    fake.finish();
    client.send(Frame.Credit, creditPayload(16 * window));
    for (let i = 0; i < 50 && !exited; i++) await tick(20);
    expect(exited).toBe(true);
    client.close();
  });

  it('grants stdin credit as the process’s pipe takes it, and refuses a caller that sends past it', async () => {
    const { fake, manager, transport } = setup();
    const { execId } = manager.create({ containerId: 'c1', cmd: ['cat'], env: [], tty: false, attachStdin: true });
    const streamId = newStreamId();
    const credits: number[] = [];
    const input: CreditedSender = new CreditedSender((type, payload) => client.send(type, payload));
    const client = new StreamEnd(transport, streamId, 'client', (type, payload) => {
      if (type === Frame.Credit) {
        credits.push(creditOf(payload));
        input.grant(creditOf(payload));
      }
    });
    await manager.start({ execId, streamId });
    client.send(Frame.Ready, readyPayload());
    const data = randomBytes(3 * STREAM_WINDOW_BYTES + 5);
    await input.send(Frame.Stdin, data);
    for (let i = 0; i < 200 && fake.input().length < data.length; i++) await tick(20);
    expect(createHash('sha256').update(fake.input()).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(credits[0]).toBe(STREAM_WINDOW_BYTES);
    expect(credits.length).toBeGreaterThan(4);
    fake.finish();
    client.close();

    // A caller that ignores the credit ends its session.
    const second = setup();
    const again = second.manager.create({ containerId: 'c1', cmd: ['cat'], env: [], tty: false, attachStdin: true });
    const otherId = newStreamId();
    let error = '';
    const rude = new StreamEnd(second.transport, otherId, 'client', (type, payload) => {
      if (type === Frame.Error) error = JSON.parse(payload.toString()).message;
    });
    await second.manager.start({ execId: again.execId, streamId: otherId });
    rude.send(Frame.Ready, readyPayload());
    rude.send(Frame.Stdin, Buffer.alloc(STREAM_WINDOW_BYTES + 1));
    for (let i = 0; i < 50 && !error; i++) await tick(20);
    expect(error).toBe('the caller sent more input than it was granted');
    second.fake.finish();
    rude.close();
  });
});

describe('an exec whose caller leaves', () => {
  /** Starts a `sh` exec with a tty and stdin, its caller Ready, then the caller leaves with `payload`. */
  async function leave(payload: object) {
    const { fake, manager, transport } = setup();
    let stdinEnded = false;
    fake.proc.stdin!.on('finish', () => (stdinEnded = true));
    const { execId } = manager.create({ containerId: 'c1', cmd: ['sh'], env: [], tty: true, attachStdin: true, detachKeys: 'ctrl-x,x' });
    expect(manager.inspect(execId)).toMatchObject({ attachStdin: true, detachKeys: 'ctrl-x,x' });
    const streamId = newStreamId();
    const client = new StreamEnd(transport, streamId, 'client', () => undefined);
    await manager.start({ execId, streamId });
    client.send(Frame.Ready, readyPayload());
    await tick(50);
    client.sendJson(Frame.Error, payload);
    client.close();
    const before = fake.produced();
    await tick(200);
    const state = { stdinEnded, drained: fake.produced() > before + 4 * CHUNK, running: manager.inspect(execId).running };
    fake.finish();
    return state;
  }

  it('keeps its stdin open on a detach: it runs on, its output drained and dropped', async () => {
    expect(await leave(detachError())).toEqual({ stdinEnded: false, drained: true, running: true });
  });

  it('ends its stdin when the caller is lost (closed without detaching), as dockerd ends a non-tty exec’s', async () => {
    expect(await leave({ code: 'CANCELLED', message: 'the caller closed the stream' })).toEqual({ stdinEnded: true, drained: true, running: true });
  });
});
