import type { Writable } from 'node:stream';
import { Frame } from '@muelle/contracts';
import { CreditedSender, CreditGrants, creditSender } from './stream-credit';
import type { StreamEnd } from './streams';

/**
 * Flow-controlled byte uploads over a stream session (build contexts today), with the credit rules
 * of every bus stream (`stream-credit.ts`): the sender sends only what the receiver granted, and
 * the receiver grants bytes back only once its destination has accepted them. Memory on both
 * sides stays bounded by the window, whatever the upload's size.
 */
export const CREDIT_WINDOW_BYTES = 1024 * 1024;

/** Sends `source` as `Stdin` frames within the granted credit, then `StdinEnd`; fails if the receiver left first. */
export async function sendBytes(sender: CreditedSender, source: AsyncIterable<Uint8Array>): Promise<number> {
  let sent = 0;
  for await (const chunk of source) {
    // The source is not read again until the chunk went out: the window bounds what waits here.
    await sender.send(Frame.Stdin, chunk);
    if (sender.isReleased) throw new Error('the receiver left');
    sent += chunk.length;
  }
  sender.control(Frame.StdinEnd);
  return sent;
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
  private readonly grants: CreditGrants;
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
    this.grants = new CreditGrants(creditSender((type, payload) => this.end.send(type, payload)), CREDIT_WINDOW_BYTES);
    this.grants.open();
  }

  /** Handles one frame of the session; frames of other types are ignored. */
  onFrame(type: number, payload: Buffer): void {
    if (this.settled) return;
    if (type === Frame.Stdin) {
      this.received += payload.length;
      if (this.received > this.options.maxBytes) return this.fail(new Error(`more than ${this.options.maxBytes} bytes`));
      if (!this.grants.received(payload.length)) return this.fail(new Error('the sender went past the credit it was granted'));
      this.arm();
      // Copy: the payload is a view into the transport's message buffer.
      this.destination.write(Buffer.from(payload), (error) => {
        if (!error && !this.settled) this.grants.delivered(payload.length);
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
