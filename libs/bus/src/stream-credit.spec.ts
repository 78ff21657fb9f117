import { createHash, randomBytes } from 'node:crypto';
import { Frame, type FrameType } from '@muelle/contracts';
import { InProcessBroker } from './in-process-broker';
import { creditOf, CreditedSender, CreditGrants, creditSender, MAX_FRAME_PAYLOAD, readyPayload, STREAM_WINDOW_BYTES, windowOf } from './stream-credit';
import { inProcessStreams, newStreamId, StreamEnd } from './streams';

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server end that sends output with credit and a client end that delivers it slowly, over the in-process bus. */
function outputSession(window: number, deliverMs: number) {
  const transport = inProcessStreams(new InProcessBroker());
  const id = newStreamId();
  let sentUngranted = 0;
  let maxInFlight = 0;
  const server = new StreamEnd(transport, id, 'server', (type, payload) => {
    if (type === Frame.Credit) {
      sentUngranted -= creditOf(payload);
      sender.grant(creditOf(payload));
    }
  });
  const sender = new CreditedSender((type, payload) => {
    if (type === Frame.Stdout) {
      sentUngranted += (payload as Uint8Array).length;
      maxInFlight = Math.max(maxInFlight, sentUngranted);
    }
    server.send(type, payload);
  }, window);
  const chunks: Buffer[] = [];
  let overrun = false;
  const grants = new CreditGrants(creditSender((type, payload) => client.send(type, payload)), window);
  const client = new StreamEnd(transport, id, 'client', (type, payload) => {
    if (type !== Frame.Stdout) return;
    if (!grants.received(payload.length)) overrun = true;
    const copy = Buffer.from(payload);
    // The client's sink takes a while per chunk (a slow socket).
    setTimeout(() => {
      chunks.push(copy);
      grants.delivered(copy.length);
    }, deliverMs);
  });
  return { sender, received: () => Buffer.concat(chunks), maxInFlight: () => maxInFlight, overrun: () => overrun, close: () => (server.close(), client.close()) };
}

describe('stream credit', () => {
  it('a pull producer never has more than the window in flight, and every byte arrives in order', async () => {
    const window = 256 * 1024;
    const s = outputSession(window, 2);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    for (let offset = 0; offset < data.length; offset += 100_000) await s.sender.send(Frame.Stdout, data.subarray(offset, offset + 100_000));
    for (let i = 0; i < 200 && s.received().length < data.length; i++) await tick(10);
    expect(createHash('sha256').update(s.received()).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(s.maxInFlight()).toBeLessThanOrEqual(window);
    expect(s.maxInFlight()).toBeGreaterThan(window / 2);
    expect(s.overrun()).toBe(false);
    s.close();
  });

  it('a push producer is told to pause when out of credit and resumes on credit', async () => {
    const frames: Array<[FrameType, number]> = [];
    const sender = new CreditedSender((type, payload) => frames.push([type, (payload as Uint8Array).length]), 100);
    expect(sender.write(Frame.Stdin, Buffer.alloc(60))).toBe(true);
    expect(sender.write(Frame.Stdin, Buffer.alloc(60))).toBe(false);
    expect(frames).toEqual([
      [Frame.Stdin, 60],
      [Frame.Stdin, 40],
    ]);
    expect(sender.queued).toBe(20);
    let drained = false;
    void sender.drained().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    sender.grant(10);
    await tick();
    expect(drained).toBe(false);
    sender.grant(1000);
    await tick();
    expect(drained).toBe(true);
    expect(frames.slice(2)).toEqual([
      [Frame.Stdin, 10],
      [Frame.Stdin, 10],
    ]);
    expect(frames.reduce((sum, [, n]) => sum + n, 0)).toBe(120);
  });

  it('sends nothing without credit, and nothing more than granted', async () => {
    const sent: number[] = [];
    const sender = new CreditedSender((_type, payload) => sent.push((payload as Uint8Array).length));
    let done = false;
    const sending = sender.send(Frame.Stdout, Buffer.alloc(3 * MAX_FRAME_PAYLOAD)).then(() => (done = true));
    await tick(10);
    expect(sent).toEqual([]);
    sender.grant(MAX_FRAME_PAYLOAD + 5);
    await tick();
    expect(sent).toEqual([MAX_FRAME_PAYLOAD, 5]);
    expect(done).toBe(false);
    sender.grant(10 * MAX_FRAME_PAYLOAD);
    await sending;
    expect(sent.reduce((a, b) => a + b, 0)).toBe(3 * MAX_FRAME_PAYLOAD);
    expect(sender.credit).toBe(8 * MAX_FRAME_PAYLOAD + 5);
  });

  it('a control frame waits behind the payload queued before it (StdinEnd after the last stdin)', () => {
    const types: FrameType[] = [];
    const sender = new CreditedSender((type) => types.push(type), 10);
    sender.write(Frame.Stdin, Buffer.alloc(30));
    sender.control(Frame.StdinEnd);
    expect(types).toEqual([Frame.Stdin]);
    sender.grant(20);
    expect(types).toEqual([Frame.Stdin, Frame.Stdin, Frame.StdinEnd]);
  });

  it('sends every byte once and in order when the credit comes back from inside a send (a synchronous transport)', async () => {
    const data = randomBytes(5 * MAX_FRAME_PAYLOAD + 3);
    const out: Buffer[] = [];
    const sender: CreditedSender = new CreditedSender((_type, payload) => {
      out.push(Buffer.from(payload as Uint8Array));
      sender.grant((payload as Uint8Array).length);
    }, MAX_FRAME_PAYLOAD);
    await sender.send(Frame.Stdout, data);
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it('when the receiver leaves, waiting senders wake and later bytes are discarded', async () => {
    const sent: number[] = [];
    const sender = new CreditedSender((_type, payload) => sent.push((payload as Uint8Array).length));
    const sending = sender.send(Frame.Stdout, Buffer.alloc(10));
    sender.release();
    await sending;
    expect(sender.write(Frame.Stdout, Buffer.alloc(10))).toBe(true);
    expect(sent).toEqual([]);
    expect(sender.isReleased).toBe(true);
  });

  it('grants back in quarter windows once delivered, and flags a sender past its window', () => {
    const credits: number[] = [];
    const grants = new CreditGrants((bytes) => credits.push(bytes), 1000);
    grants.open();
    expect(credits).toEqual([1000]);
    expect(grants.received(600)).toBe(true);
    grants.delivered(200);
    expect(credits).toEqual([1000]);
    grants.delivered(100);
    expect(credits).toEqual([1000, 300]);
    expect(grants.received(700)).toBe(true); // 300 outstanding + 700: exactly the window
    expect(grants.received(1)).toBe(false);
  });

  it('reads windows and credits defensively', () => {
    expect(windowOf(Buffer.from(readyPayload(1024 * 1024)))).toBe(1024 * 1024);
    expect(windowOf(Buffer.alloc(0))).toBe(STREAM_WINDOW_BYTES);
    expect(windowOf(Buffer.from('{"window":1}'))).toBe(64 * 1024);
    expect(windowOf(Buffer.from('{"window":1e12}'))).toBe(64 * 1024 * 1024);
    expect(windowOf(Buffer.from('nope'))).toBe(STREAM_WINDOW_BYTES);
    expect(creditOf(Buffer.from('{"bytes":-5}'))).toBe(0);
    expect(creditOf(Buffer.from('nope'))).toBe(0);
    expect(creditOf(Buffer.from('{"bytes":4096}'))).toBe(4096);
  });
});
