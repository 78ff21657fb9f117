import { Frame, type FrameType } from '@muelle/contracts';

/**
 * Credit-based flow control for every byte stream on the bus (logs -f, attach, exec, build
 * contexts), in both directions. Bus streams are plain publish/subscribe: nothing slows a
 * publisher, and NATS drops messages for a subscriber that falls behind. So the receiver of a
 * direction announces a window of bytes, the sender sends only payload bytes (Stdin, Stdout,
 * Stderr) it holds credit for, and the receiver grants bytes back (`Frame.Credit`, `{bytes}`) once
 * its destination took them: a client socket that drained, a process pipe that accepted them.
 * A sender out of credit stops reading its source — the log file waits, a process blocks on its
 * full pipe, a client socket is paused — so what is held per stream is bounded by the window.
 * Control frames (Ready, Resize, StdinEnd, Exit, Error, Credit) are not counted.
 */
export const STREAM_WINDOW_BYTES = 2 * 1024 * 1024;
const MIN_WINDOW_BYTES = 64 * 1024;
const MAX_WINDOW_BYTES = 64 * 1024 * 1024;
/** Largest payload of one frame (well under NATS's default 1 MiB max payload). */
export const MAX_FRAME_PAYLOAD = 64 * 1024;

type Send = (type: FrameType, payload?: Uint8Array | string) => void;

/** `Frame.Credit` payload for `bytes`. */
export const creditPayload = (bytes: number) => JSON.stringify({ bytes });

/** Parses a `Frame.Credit` payload; 0 for anything malformed (never grants by mistake). */
export function creditOf(payload: Buffer): number {
  const bytes = parseJson(payload)?.bytes;
  return typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes > 0 ? bytes : 0;
}

/** `Frame.Ready` payload: the window the stream's client grants the server for its output. */
export const readyPayload = (window = STREAM_WINDOW_BYTES) => JSON.stringify({ window });

/** The output window a `Frame.Ready` announces (the default when it names none), kept within sane bounds. */
export function windowOf(readyFrame: Buffer): number {
  const window = parseJson(readyFrame)?.window;
  if (typeof window !== 'number' || !Number.isSafeInteger(window)) return STREAM_WINDOW_BYTES;
  return Math.min(MAX_WINDOW_BYTES, Math.max(MIN_WINDOW_BYTES, window));
}

function parseJson(payload: Buffer): Record<string, unknown> | undefined {
  if (!payload.length) return undefined;
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    // Malformed control payload: treated as absent (no credit, the default window).
    return undefined;
  }
}

/**
 * The sending side of one direction. `write` (for push sources such as a socket's `data`) sends
 * what the credit allows at once and queues the rest in order, returning false: the caller pauses
 * its source until `drained()`. `send` (for pull sources such as a file cursor or an async
 * iterator) resolves once its bytes went out. Either way no more payload than granted is ever
 * published.
 */
export class CreditedSender {
  private available: number;
  private readonly queue: Array<{ type: FrameType; bytes: Uint8Array | string; control: boolean }> = [];
  private readonly waiters = new Set<() => void>();
  private released = false;

  constructor(
    private readonly send_: Send,
    initialCredit = 0,
  ) {
    this.available = initialCredit;
  }

  /** Credit not yet used. */
  get credit(): number {
    return this.available;
  }

  /** Bytes accepted by `write` and not yet sent. */
  get queued(): number {
    return this.queue.reduce((sum, item) => sum + (item.control ? 0 : item.bytes.length), 0);
  }

  /** True once the receiver is gone: the sender's sources may stop (or drain and discard). */
  get isReleased(): boolean {
    return this.released;
  }

  /** Queues `bytes` as payload frames of `type`; false when they could not all go out now. */
  write(type: FrameType, bytes: Uint8Array): boolean {
    if (this.released) return true;
    if (bytes.length) this.queue.push({ type, bytes, control: false });
    this.flush();
    return this.queue.length === 0;
  }

  /** Sends `bytes` within the credit; resolves once all went out, or the receiver left. */
  async send(type: FrameType, bytes: Uint8Array): Promise<void> {
    if (!this.write(type, bytes)) await this.drained();
  }

  /** A control frame (no credit needed), after every payload queued before it. */
  control(type: FrameType, payload: Uint8Array | string = new Uint8Array()): void {
    if (this.released) return;
    this.queue.push({ type, bytes: payload, control: true });
    this.flush();
  }

  /** Resolves when nothing waits for credit any more (or the receiver left). */
  drained(): Promise<void> {
    if (!this.queue.length || this.released) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  /** The receiver granted `bytes` more. */
  grant(bytes: number): void {
    if (bytes <= 0) return;
    this.available += bytes;
    this.flush();
  }

  /** The receiver left: queued bytes are dropped, waiters wake, later writes are discarded. */
  release(): void {
    this.released = true;
    this.queue.length = 0;
    this.wake();
  }

  private flush(): void {
    while (this.queue.length) {
      const item = this.queue[0]!;
      let payload: Uint8Array | string = item.bytes;
      if (!item.control) {
        const bytes = item.bytes as Uint8Array;
        const size = Math.min(this.available, MAX_FRAME_PAYLOAD, bytes.length);
        if (size <= 0) return;
        payload = bytes.subarray(0, size);
        this.available -= size;
        item.bytes = bytes.subarray(size);
      }
      if (item.control || !item.bytes.length) this.queue.shift();
      // State first: a transport that delivered synchronously could grant (and flush) from inside.
      this.send_(item.type, payload);
    }
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const resolve of waiters) resolve();
  }
}

/**
 * The receiving side of one direction: counts payload that arrived and grants it back once its
 * destination took it, a quarter window at a time (fewer Credit frames than one per frame).
 */
export class CreditGrants {
  /** Received and not yet granted back: what the sender may have in flight. */
  private outstanding = 0;
  /** Delivered and not yet granted back. */
  private deliveredUngranted = 0;

  constructor(
    private readonly sendCredit: (bytes: number) => void,
    readonly window = STREAM_WINDOW_BYTES,
  ) {}

  /** Announces the whole window to the sender (the receivers that speak first do). */
  open(): void {
    this.sendCredit(this.window);
  }

  /** Counts `bytes` that arrived; false when the sender went past its window (a broken peer). */
  received(bytes: number): boolean {
    this.outstanding += bytes;
    return this.outstanding <= this.window;
  }

  /** `bytes` reached the destination: they may be sent again. */
  delivered(bytes: number): void {
    this.deliveredUngranted += bytes;
    // A sender stalls only with its whole window outstanding, so a quarter always comes back.
    if (this.deliveredUngranted < this.window / 4) return;
    const grant = this.deliveredUngranted;
    this.deliveredUngranted = 0;
    this.outstanding -= grant;
    if (grant > 0) this.sendCredit(grant);
  }
}

/** Credit frames as a grant function for `CreditGrants`. */
export const creditSender = (send: Send) => (bytes: number) => send(Frame.Credit, creditPayload(bytes));
