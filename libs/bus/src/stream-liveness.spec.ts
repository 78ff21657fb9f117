import { Frame, type FrameType } from '@muelle/contracts';
import { InProcessBroker } from './in-process-broker';
import { CreditedSender, MAX_FRAME_PAYLOAD } from './stream-credit';
import { DEFAULT_STREAM_LIVENESS, isPeerSilent, setStreamLiveness, streamLiveness, StreamLiveness, validStreamLiveness } from './stream-liveness';
import { inProcessStreams, newStreamId, StreamEnd, type StreamTransport } from './streams';

const options = { keepAliveMs: 1000, silenceMs: 5000 };

/** A transport whose publisher can be "killed": from then on it publishes nothing (SIGKILL sends no goodbye). */
function killable(transport: StreamTransport) {
  let dead = false;
  return {
    transport: { publish: (subject: string, data: Uint8Array) => !dead && transport.publish(subject, data), subscribe: transport.subscribe.bind(transport), settled: () => transport.settled() } as StreamTransport,
    kill: () => (dead = true),
  };
}

function session() {
  const transport = inProcessStreams(new InProcessBroker());
  const id = newStreamId();
  const server = killable(transport);
  const client = killable(transport);
  const toClient: FrameType[] = [];
  const toServer: FrameType[] = [];
  // What actually travels on the wire, keep-alives included.
  transport.subscribe(`muelle.stream.${id}.out`, (data) => toClient.push(data[0] as FrameType));
  transport.subscribe(`muelle.stream.${id}.in`, (data) => toServer.push(data[0] as FrameType));
  const clientFrames: Array<{ type: FrameType; payload: string }> = [];
  const serverFrames: Array<{ type: FrameType; payload: string }> = [];
  const clientEnd = new StreamEnd(client.transport, id, 'client', (type, payload) => clientFrames.push({ type, payload: payload.toString() }), options);
  const serverEnd = new StreamEnd(server.transport, id, 'server', (type, payload) => serverFrames.push({ type, payload: payload.toString() }), options);
  return { clientEnd, serverEnd, clientFrames, serverFrames, toClient, toServer, killServer: server.kill, killClient: client.kill };
}

/** The silence decision runs after the turn's socket reads (setImmediate): let it run. */
const decide = () => jest.runOnlyPendingTimers();

const errors = (frames: Array<{ type: FrameType; payload: string }>) => frames.filter((f) => f.type === Frame.Error);

describe('stream liveness', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('keeps sending keep-alives while the data window is full, and the waiting peer never counts that as silence', () => {
    const s = session();
    // The server has output but no credit: it stays queued, as when a client stops reading.
    const output = new CreditedSender((type, payload) => s.serverEnd.send(type, payload), 0);
    expect(output.write(Frame.Stdout, Buffer.alloc(3 * MAX_FRAME_PAYLOAD))).toBe(false);
    jest.advanceTimersByTime(30_000);
    expect(s.toClient.filter((t) => t === Frame.Stdout)).toHaveLength(0);
    // Keep-alives need no credit: one at open and one a second since.
    expect(s.toClient.filter((t) => t === Frame.KeepAlive).length).toBeGreaterThanOrEqual(30);
    expect(output.credit).toBe(0);
    expect(output.queued).toBe(3 * MAX_FRAME_PAYLOAD);
    expect(errors(s.clientFrames)).toEqual([]);
    expect(errors(s.serverFrames)).toEqual([]);
    // Keep-alives are never handed to the stream's own handler.
    expect(s.clientFrames.filter((f) => f.type === Frame.KeepAlive)).toEqual([]);
  });

  it('reports a peer that went silent as an UNAVAILABLE Error frame between silence and silence + one keep-alive', () => {
    const s = session();
    jest.advanceTimersByTime(2000);
    s.killServer();
    jest.advanceTimersByTime(options.silenceMs - 1000);
    expect(errors(s.clientFrames)).toEqual([]);
    jest.advanceTimersByTime(options.keepAliveMs + 1000);
    decide();
    const [error] = errors(s.clientFrames);
    expect(error).toBeDefined();
    const wire = JSON.parse(error!.payload);
    expect(wire).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/stopped answering/) });
    expect(isPeerSilent(wire)).toBe(true);
    // Once: the end stops its clock and sends nothing more to the silent peer.
    const sentBefore = s.toServer.length;
    s.clientEnd.send(Frame.Stdin, 'late');
    jest.advanceTimersByTime(20_000);
    expect(errors(s.clientFrames)).toHaveLength(1);
    expect(s.toServer.length).toBe(sentBefore);
  });

  it('lets the server notice a client that died too (one code path both ways)', () => {
    const s = session();
    jest.advanceTimersByTime(1500);
    s.killClient();
    jest.advanceTimersByTime(options.silenceMs + options.keepAliveMs + 100);
    expect(errors(s.serverFrames)).toHaveLength(1);
    expect(isPeerSilent(JSON.parse(errors(s.serverFrames)[0]!.payload))).toBe(true);
  });

  it('does not report a normal end as silence, on either side', () => {
    const s = session();
    jest.advanceTimersByTime(1500);
    s.serverEnd.sendJson(Frame.Exit, { exitCode: 0 });
    s.serverEnd.close();
    jest.advanceTimersByTime(60_000);
    expect(s.clientFrames.map((f) => f.type)).toEqual([Frame.Exit]);
    expect(errors(s.serverFrames)).toEqual([]);
  });

  it('stops both clocks on close: nothing is sent or reported afterwards', () => {
    const s = session();
    jest.advanceTimersByTime(10);
    s.clientEnd.close();
    s.serverEnd.close();
    const sent = s.toClient.length + s.toServer.length;
    jest.advanceTimersByTime(60_000);
    expect(s.toClient.length + s.toServer.length).toBe(sent);
  });

  it("counts a server end's client as there from the start: the request that made the server end came from it", () => {
    const transport = inProcessStreams(new InProcessBroker());
    const frames: FrameType[] = [];
    // The client sent its request and died before its first frame on the stream (Ready).
    new StreamEnd(transport, newStreamId(), 'server', (type) => frames.push(type), options);
    jest.advanceTimersByTime(options.silenceMs - options.keepAliveMs);
    expect(frames).toEqual([]);
    jest.advanceTimersByTime(2 * options.keepAliveMs + 1);
    expect(frames).toEqual([Frame.Error]);
  });

  it('counts silence only once the peer spoke or was expected', () => {
    const transport = inProcessStreams(new InProcessBroker());
    const frames: FrameType[] = [];
    const lonely = new StreamEnd(transport, newStreamId(), 'client', (type) => frames.push(type), options);
    jest.advanceTimersByTime(60_000);
    // Nobody took the stream: that is its request's business (reply or timeout), not silence.
    expect(frames).toEqual([]);
    lonely.expectPeer();
    jest.advanceTimersByTime(options.silenceMs + options.keepAliveMs);
    decide();
    expect(frames).toEqual([Frame.Error]);
  });
});

describe('StreamLiveness', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('is kept alive by any frame the peer sends, not only keep-alives', () => {
    const silences: number[] = [];
    const clock = new StreamLiveness(() => undefined, (ms) => silences.push(ms), options);
    clock.start();
    for (let i = 0; i < 20; i++) {
      clock.heard();
      jest.advanceTimersByTime(4000);
    }
    expect(silences).toEqual([]);
    jest.advanceTimersByTime(6000);
    expect(silences).toHaveLength(1);
    expect(silences[0]).toBeGreaterThan(options.silenceMs);
    expect(clock.isStopped).toBe(true);
  });

  it('does not blame the peer for a stall of its own process (a tick far later than due)', () => {
    const silences: number[] = [];
    const clock = new StreamLiveness(() => undefined, (ms) => silences.push(ms), options);
    clock.start();
    clock.heard();
    // The event loop is blocked for 10 s: the clock jumps, no timer runs meanwhile.
    jest.setSystemTime(Date.now() + 10_000);
    jest.advanceTimersByTime(options.keepAliveMs);
    expect(silences).toEqual([]);
    // The peer really is silent afterwards: reported within the usual bound.
    jest.advanceTimersByTime(options.silenceMs + options.keepAliveMs);
    decide();
    expect(silences).toHaveLength(1);
    clock.stop();
  });

  it('still notices a silent peer when every tick runs late (a starved, not frozen, process)', () => {
    const silences: number[] = [];
    const clock = new StreamLiveness(() => undefined, (ms) => silences.push(ms), options);
    clock.start();
    clock.heard();
    // Each tick runs 2.5 keep-alives late, as on a host whose CPU is saturated: the clock keeps counting.
    for (let i = 0; i < 20 && silences.length === 0; i++) {
      jest.setSystemTime(Date.now() + options.keepAliveMs * 1.5);
      jest.advanceTimersByTime(options.keepAliveMs);
    }
    expect(silences).toHaveLength(1);
    clock.stop();
  });

  it('checks its settings', () => {
    expect(validStreamLiveness(DEFAULT_STREAM_LIVENESS)).toBeUndefined();
    expect(validStreamLiveness({ keepAliveMs: 1000, silenceMs: 1500 })).toMatch(/twice the keep-alive/);
    expect(validStreamLiveness({ keepAliveMs: 1.5, silenceMs: 5000 })).toMatch(/keep-alive interval/);
    expect(() => setStreamLiveness({ keepAliveMs: 0, silenceMs: 5000 })).toThrow(RangeError);
    const before = streamLiveness();
    try {
      setStreamLiveness({ keepAliveMs: 200, silenceMs: 800 });
      expect(streamLiveness()).toEqual({ keepAliveMs: 200, silenceMs: 800 });
    } finally {
      setStreamLiveness(before);
    }
  });
});
