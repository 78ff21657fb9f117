/**
 * Most bytes the api holds for one streaming client (logs -f, attach, exec, events) that reads
 * slower than its producer writes. The producers (an agent's output over the bus, the event hub)
 * cannot be paused from here, so a client past this backlog is cut with a message saying so
 * (logs resume with `--since`): the api's memory is bounded by this figure per stream, not by
 * how fast a container prints.
 */
// 64 MiB: a client that keeps up in bursts (a pipe through `docker run -i … | sha256sum` on a busy
// host) must not be cut; 8 MiB cut a 100 MB pipe on a loaded CI machine.
export const CLIENT_BACKLOG_LIMIT_BYTES = 64 * 1024 * 1024;

export const SLOW_CLIENT_MESSAGE = `the client read too slowly: more than ${CLIENT_BACKLOG_LIMIT_BYTES / 1024 / 1024} MiB of output waited for it, so the stream was ended`;

/** What a stream's sink has queued and not yet handed to the kernel: a Node stream or a WebSocket. */
export type Sink = { writableLength: number } | { bufferedAmount: number };

const queued = (sink: Sink) => ('writableLength' in sink ? sink.writableLength : sink.bufferedAmount);

/**
 * Writes through `write` while the sink's backlog stays under the limit; the first write that
 * would pass it calls `cut` instead (once) and every later one is dropped. Returns the writer.
 */
export function boundedWriter<T extends string | Uint8Array>(sink: Sink, write: (chunk: T) => void, cut: () => void, limit = CLIENT_BACKLOG_LIMIT_BYTES): (chunk: T) => void {
  let over = false;
  return (chunk) => {
    if (over) return;
    if (queued(sink) + (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length) > limit) {
      over = true;
      cut();
      return;
    }
    write(chunk);
  };
}

/**
 * A bounded writer for the output of one agent stream session, which exists only once the
 * handshake is done: a cut closes the session (so the agent stops sending) as soon as there is one.
 */
export class SessionOutput<T extends string | Uint8Array> {
  private session?: { close(): void };
  private cut = false;
  readonly write: (chunk: T) => void;

  constructor(sink: Sink, write: (chunk: T) => void, farewell: () => void, limit = CLIENT_BACKLOG_LIMIT_BYTES) {
    this.write = boundedWriter<T>(
      sink,
      write,
      () => {
        this.cut = true;
        this.session?.close();
        farewell();
      },
      limit,
    );
  }

  /** Ties the session in; closes it at once if the client was cut during the handshake. */
  follow<S extends { close(): void }>(session: S): S {
    this.session = session;
    if (this.cut) session.close();
    return session;
  }
}
