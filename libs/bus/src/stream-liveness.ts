/**
 * Liveness for every byte stream on the bus (exec, attach, logs -f, build contexts and progress,
 * archives), on both ends. Bus streams are publish/subscribe: a peer that dies (SIGKILL, a lost
 * host) sends no goodbye, and its partner would wait forever — a build request hanging until its
 * client leaves, a process blocked on a pipe whose window will never be granted back. So each end
 * publishes a `KeepAlive` frame every `keepAliveMs` while open, and treats `silenceMs` without any
 * frame from its peer as the peer gone.
 *
 * Keep-alives go straight to the transport, beside the credit: they are never counted against a
 * window and never wait behind payload queued for credit (a full window is exactly when a
 * partner's silence matters). The silence clock starts with the peer's first frame, or when the
 * caller says the peer must now be there (`expectPeer`, once its request was accepted): a peer
 * that never took the stream is its request's business (the request's reply or timeout).
 * Silence is checked on the keep-alive tick, so it is noticed between `silenceMs` and
 * `silenceMs + keepAliveMs` after the peer's last frame. A tick that comes much later than due
 * means this process stalled (a blocked event loop, a paused VM), not the peer: the peer's frames
 * may be waiting unread behind the stall, so its allowance starts again instead of the stream
 * being cut — the all-in-one, where both ends share one event loop, relies on this.
 */
export interface StreamLivenessOptions {
  /** How often each end says it is alive (default 1 s). */
  keepAliveMs: number;
  /** Silence from the peer longer than this ends the session (default 5 s). */
  silenceMs: number;
}

export const DEFAULT_STREAM_LIVENESS: Readonly<StreamLivenessOptions> = Object.freeze({ keepAliveMs: 1000, silenceMs: 5000 });

let processLiveness: StreamLivenessOptions = { ...DEFAULT_STREAM_LIVENESS };

/** Checks a setting: keep-alives at least every 10 ms, and a silence limit longer than two of them. */
export function validStreamLiveness(options: StreamLivenessOptions): string | undefined {
  if (!Number.isSafeInteger(options.keepAliveMs) || options.keepAliveMs < 10) return 'the keep-alive interval must be a whole number of milliseconds, at least 10';
  if (!Number.isSafeInteger(options.silenceMs) || options.silenceMs < 2 * options.keepAliveMs) return 'the silence limit must be at least twice the keep-alive interval';
  return undefined;
}

/**
 * The process's setting (from MUELLE_STREAM_KEEPALIVE_MS / MUELLE_STREAM_SILENCE_MS, set once at
 * boot by service-kit); every stream end opened afterwards uses it unless given its own.
 */
export function setStreamLiveness(options: StreamLivenessOptions): void {
  const problem = validStreamLiveness(options);
  if (problem) throw new RangeError(problem);
  processLiveness = { ...options };
}

export const streamLiveness = (): StreamLivenessOptions => ({ ...processLiveness });

/** Details of the `Error` frame an end hands its own handler when its peer fell silent. */
export const PEER_SILENT = 'peer-silent';

/** The wire error (`{code, message, details}`) of a silent peer, as delivered in a `Frame.Error`. */
export const peerSilentError = (silentMs: number) => ({
  code: 'UNAVAILABLE',
  message: `the other end of the stream stopped answering (nothing heard for ${silentMs} ms)`,
  details: { reason: PEER_SILENT, silentMs },
});

/** True for the payload of an `Error` frame that reports a silent peer (not one the peer sent). */
export function isPeerSilent(wire: unknown): boolean {
  return (wire as { details?: { reason?: unknown } } | undefined)?.details?.reason === PEER_SILENT;
}

/**
 * The clock of one stream end: `start` sends keep-alives, `heard` is called for every frame that
 * arrives, `onSilence` fires once when the peer went quiet for too long. `stop` ends it all
 * (the session ended normally, or the end closed): a normal end is never reported as silence.
 */
export class StreamLiveness {
  private timer?: NodeJS.Timeout;
  private lastHeard?: number;
  private lastTick = 0;
  private stopped = false;

  constructor(
    private readonly sendKeepAlive: () => void,
    private readonly onSilence: (silentMs: number) => void,
    readonly options: StreamLivenessOptions = streamLiveness(),
  ) {}

  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.keepAliveMs);
    // A stream never keeps a process alive by itself.
    this.timer.unref();
    this.lastTick = Date.now();
    this.sendKeepAlive();
  }

  /** A frame (of any type) arrived from the peer. */
  heard(): void {
    this.lastHeard = Date.now();
  }

  /** The peer must be there from now on (its request was accepted): silence counts even before its first frame. */
  expectPeer(): void {
    this.lastHeard ??= Date.now();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    // We were frozen for a whole silence allowance (a tick that late): what the peer sent may not be
    // read yet, so the peer is not blamed. Ticks merely late (a busy CPU, as on a loaded host) keep
    // the clock: otherwise a starved process would never notice a dead peer.
    if (now - this.lastTick > this.options.silenceMs && this.lastHeard !== undefined) this.lastHeard = now;
    this.lastTick = now;
    const silentMs = this.lastHeard === undefined ? 0 : now - this.lastHeard;
    if (silentMs > this.options.silenceMs) {
      // Timers run before pending socket reads in Node's loop: after a busy stretch shorter than the
      // allowance, the peer's keep-alives may sit unread in the socket. Decide after the reads of
      // this turn (setImmediate runs after the poll phase), so only a peer that really said nothing is cut.
      setImmediate(() => this.confirmSilence());
      return;
    }
    this.sendKeepAlive();
  }

  private confirmSilence(): void {
    if (this.stopped || this.lastHeard === undefined) return;
    const silentMs = Date.now() - this.lastHeard;
    if (silentMs <= this.options.silenceMs) return this.sendKeepAlive();
    this.stop();
    this.onSilence(silentMs);
  }
}
