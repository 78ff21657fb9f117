import type { Writable } from 'node:stream';
import { Frame } from '@muelle/contracts';
import type { StreamEnd } from './streams';

/**
 * Flow-controlled byte uploads over a stream session (build contexts today). Bus streams are plain
 * publish/subscribe — NATS drops messages for a subscriber that falls behind — so the sender may
 * only send what the receiver granted (`Frame.Credit`), and the receiver grants bytes back only once
 * its destination has accepted them. Memory on both sides stays bounded by the window, whatever
 * the upload's size.
 */
export const CREDIT_WINDOW_BYTES = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** Credit granted by the receiver; `take` waits until some is available. */
export class CreditGate {
  private available = 0;
  private waiter?: () => void;
  private failure?: Error;

  grant(bytes: number): void {
    this.available += bytes;
    this.wake();
  }

  /** The session ended or failed: the sender stops at once. */
  fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  async take(wanted: number): Promise<number> {
    while (!this.failure && this.available <= 0) await new Promise<void>((resolve) => (this.waiter = resolve));
    if (this.failure) throw this.failure;
    const granted = Math.min(wanted, this.available);
    this.available -= granted;
    return granted;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

/** Sends `source` as `Stdin` frames within the granted credit, then `StdinEnd`. */
export async function sendBytes(end: StreamEnd, source: AsyncIterable<Uint8Array>, credit: CreditGate): Promise<number> {
  let sent = 0;
  for await (const chunk of source) {
    for (let offset = 0; offset < chunk.length; ) {
      const size = await credit.take(Math.min(CHUNK_BYTES, chunk.length - offset));
      end.send(Frame.Stdin, chunk.subarray(offset, offset + size));
      offset += size;
      sent += size;
    }
  }
  end.send(Frame.StdinEnd);
  return sent;
}

/** Parses a `Frame.Credit` payload; 0 for anything malformed (never grants by mistake). */
export function creditOf(payload: Buffer): number {
  try {
    const bytes = (JSON.parse(payload.toString('utf8')) as { bytes?: unknown }).bytes;
    return typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes > 0 ? bytes : 0;
  } catch {
    // A malformed credit frame grants nothing; the upload then stalls and times out.
    return 0;
  }
}

export interface ByteReceiverOptions {
  /** Fail when no byte arrives for this long (a sender that died, a lost connection). */
  idleTimeoutMs: number;
  /** Fail once more than this many bytes arrived. */
  maxBytes: number;
}

/**
 * The receiving side: feed it the session's frames; it writes `Stdin` payloads to `destination`,
 * grants credit as the destination accepts them, and settles `done` with the byte count when
 * `StdinEnd` arrives and the destination finished.
 */
export class ByteReceiver {
  readonly done: Promise<number>;
  private received = 0;
  private ungranted = 0;
  private settled = false;
  private timer?: NodeJS.Timeout;
  private resolve!: (bytes: number) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly end: Pick<StreamEnd, 'send'>,
    private readonly destination: Writable,
    private readonly options: ByteReceiverOptions,
  ) {
    this.done = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The caller may await `done` later; a failure must not count as unhandled meanwhile.
    this.done.catch(() => undefined);
    destination.on('error', (error) => this.fail(error));
    this.arm();
    this.end.send(Frame.Credit, JSON.stringify({ bytes: CREDIT_WINDOW_BYTES }));
  }

  /** Handles one frame of the session; frames of other types are ignored. */
  onFrame(type: number, payload: Buffer): void {
    if (this.settled) return;
    if (type === Frame.Stdin) {
      this.received += payload.length;
      if (this.received > this.options.maxBytes) return this.fail(new Error(`more than ${this.options.maxBytes} bytes`));
      this.arm();
      // Copy: the payload is a view into the transport's message buffer.
      this.destination.write(Buffer.from(payload), (error) => {
        if (error || this.settled) return;
        this.ungranted += payload.length;
        if (this.ungranted >= CREDIT_WINDOW_BYTES / 4) {
          this.end.send(Frame.Credit, JSON.stringify({ bytes: this.ungranted }));
          this.ungranted = 0;
        }
      });
    } else if (type === Frame.StdinEnd) {
      clearTimeout(this.timer);
      this.destination.end(() => this.settle(() => this.resolve(this.received)));
    } else if (type === Frame.Error) {
      this.fail(new Error('the sender gave up'));
    }
  }

  fail(error: Error): void {
    this.settle(() => {
      this.destination.destroy();
      this.reject(error);
    });
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fail(new Error(`no data for ${this.options.idleTimeoutMs} ms`)), this.options.idleTimeoutMs);
    this.timer.unref();
  }

  private settle(action: () => void): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    action();
  }
}
