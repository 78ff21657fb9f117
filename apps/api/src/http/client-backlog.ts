/**
 * Most bytes the api holds for one streaming client whose producer cannot be paused: the event
 * streams (`/v1/events`, Docker's `/events`), fed by the event hub for every subscriber at once.
 * A client past this backlog is cut with a message saying so: the api's memory is bounded by this
 * figure per stream, not by how fast events come.
 *
 * The agent's byte streams (logs -f, attach, exec) are not cut: they are credit-based
 * (libs/bus `stream-credit.ts`), so what the api holds for a client is at most the stream's window
 * whatever the client does, and a client that reads nothing only stops its own reader on the agent
 * (the log file keeps the output; an exec'd process blocks on its pipe, as under Docker). Cutting
 * such a client would save no memory and would lose a reader that is merely slow.
 */
// 64 MiB: hundreds of thousands of events, so a client that keeps up in bursts is never cut.
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
