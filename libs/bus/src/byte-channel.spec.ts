import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { Frame } from '@muelle/contracts';
import { ByteReceiver, CREDIT_WINDOW_BYTES, CreditGate, creditOf, sendBytes } from './byte-channel';
import { InProcessBroker } from './in-process-broker';
import { inProcessStreams, newStreamId, StreamEnd } from './streams';

/** A destination that accepts bytes slowly and remembers how much was in flight at most. */
function slowSink(delayMs: number) {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      setTimeout(callback, delayMs);
    },
  });
  return { sink, bytes: () => Buffer.concat(chunks) };
}

function session() {
  const transport = inProcessStreams(new InProcessBroker());
  const id = newStreamId();
  const credit = new CreditGate();
  let receiver: ByteReceiver | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  const sender = new StreamEnd(transport, id, 'client', (type, payload) => {
    if (type === Frame.Credit) {
      inFlight -= creditOf(payload);
      credit.grant(creditOf(payload));
    }
  });
  const receiverEnd = new StreamEnd(transport, id, 'server', (type, payload) => {
    if (type === Frame.Stdin) {
      inFlight += payload.length;
      maxInFlight = Math.max(maxInFlight, inFlight);
    }
    receiver?.onFrame(type, payload);
  });
  return {
    sender,
    credit,
    start: (sink: Writable, options = { idleTimeoutMs: 5000, maxBytes: 1 << 30 }) => (receiver = new ByteReceiver(receiverEnd, sink, options)),
    maxInFlight: () => maxInFlight + CREDIT_WINDOW_BYTES,
    close: () => {
      sender.close();
      receiverEnd.close();
    },
  };
}

describe('flow-controlled byte uploads', () => {
  it('delivers every byte in order to a slow destination, never more in flight than granted', async () => {
    const s = session();
    const data = randomBytes(6 * 1024 * 1024 + 123);
    const { sink, bytes } = slowSink(1);
    const receiver = s.start(sink);
    const sent = await sendBytes(s.sender, Readable.from([data.subarray(0, 1000), data.subarray(1000)]), s.credit);
    expect(await receiver.done).toBe(data.length);
    expect(sent).toBe(data.length);
    expect(createHash('sha256').update(bytes()).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    // In flight (sent, not yet accepted by the destination) never passed the window.
    expect(s.maxInFlight()).toBeLessThanOrEqual(2 * CREDIT_WINDOW_BYTES);
    s.close();
  });

  it('sends nothing before the receiver grants credit', async () => {
    const s = session();
    let sentFrames = 0;
    const sending = sendBytes(
      { send: () => sentFrames++ } as unknown as StreamEnd,
      Readable.from([Buffer.alloc(10)]),
      s.credit,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sentFrames).toBe(0);
    s.credit.grant(4);
    await new Promise((resolve) => setTimeout(resolve, 20));
    s.credit.fail(new Error('gone'));
    await expect(sending).rejects.toThrow('gone');
    expect(sentFrames).toBe(1);
    s.close();
  });

  it('fails when the sender goes silent, and when the upload is over its limit', async () => {
    const idle = session();
    const stalled = idle.start(slowSink(0).sink, { idleTimeoutMs: 50, maxBytes: 1 << 20 });
    await expect(stalled.done).rejects.toThrow('no data for 50 ms');
    idle.close();

    const big = session();
    const limited = big.start(slowSink(0).sink, { idleTimeoutMs: 5000, maxBytes: 1000 });
    await sendBytes(big.sender, Readable.from([Buffer.alloc(5000)]), big.credit).catch(() => undefined);
    await expect(limited.done).rejects.toThrow('more than 1000 bytes');
    big.close();
  });

  it('grants nothing for malformed credit frames', () => {
    expect(creditOf(Buffer.from('{"bytes":-5}'))).toBe(0);
    expect(creditOf(Buffer.from('nope'))).toBe(0);
    expect(creditOf(Buffer.from('{"bytes":4096}'))).toBe(4096);
  });
});
