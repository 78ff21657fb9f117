import type { NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import type { FrameType } from '@muelle/contracts';
import { Frame } from '@muelle/contracts';
import { InProcessBroker } from './in-process-broker';
import { peerSilentError, StreamLiveness, type StreamLivenessOptions } from './stream-liveness';

/**
 * Raw publish/subscribe of bytes, for what request/reply cannot carry: exec and attach sessions,
 * followed logs, build progress. NATS keeps the order of one publisher's messages, and so does
 * the in-process broker.
 */
export interface StreamTransport {
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, handler: (data: Uint8Array) => void): () => void;
  /** Resolves once the broker knows every subscription made so far (see StreamEnd.subscribed). */
  settled(): Promise<void>;
}

export function natsStreams(connection: NatsConnection): StreamTransport {
  return {
    publish: (subject, data) => connection.publish(subject, data),
    subscribe(subject, handler) {
      const subscription = connection.subscribe(subject, { callback: (error, message) => !error && handler(message.data) });
      return () => subscription.unsubscribe();
    },
    // A PING after the SUBs, answered once the server processed them (NATS handles a connection's
    // protocol messages in order).
    settled: () => connection.flush(),
  };
}

export function inProcessStreams(broker: InProcessBroker): StreamTransport {
  return {
    publish: (subject, data) => broker.publishRaw(subject, data),
    subscribe: (subject, handler) => broker.subscribeRaw(subject, handler),
    settled: () => Promise.resolve(), // subscribed synchronously
  };
}

// The frame types live in the contracts: the api's WebSocket and the CLI speak the same bytes.
export { Frame, type FrameType } from '@muelle/contracts';

// Stay well under NATS's default 1 MiB max payload.
const MAX_CHUNK = 64 * 1024;

export const newStreamId = () => randomBytes(12).toString('hex');
const subjects = (id: string) => ({ toServer: `muelle.stream.${id}.in`, toClient: `muelle.stream.${id}.out` });

/**
 * One end of a bidirectional session on a stream id. The client end (api) sends stdin, resize and
 * stdin-end; the server end (agent) sends stdout, stderr and finally exit or error.
 *
 * Every end keeps the session's liveness (`stream-liveness.ts`): it sends `KeepAlive` frames while
 * open and never hands them to `onFrame`; when the peer stays silent too long, the end stops
 * sending and hands `onFrame` an `Error` frame (`UNAVAILABLE`, details `peer-silent`) — the same
 * frame a peer that leaves sends, so each stream type has one way to handle "the peer is gone".
 * Sending or receiving `Exit` or `Error` ends the liveness: a finished session is never silent.
 */
export class StreamEnd {
  private readonly unsubscribe: () => void;
  private readonly sendSubject: string;
  private readonly liveness?: StreamLiveness;
  private peerGone = false;

  constructor(
    private readonly transport: StreamTransport,
    readonly id: string,
    side: 'client' | 'server',
    onFrame: (type: FrameType, payload: Buffer) => void,
    /** The process's setting (`setStreamLiveness`) unless given; `false` only for tests of raw frames. */
    liveness?: StreamLivenessOptions | false,
  ) {
    const { toServer, toClient } = subjects(id);
    this.sendSubject = side === 'client' ? toServer : toClient;
    if (liveness !== false) {
      this.liveness = new StreamLiveness(
        () => this.publish(Frame.KeepAlive, new Uint8Array()),
        (silentMs) => {
          this.peerGone = true;
          onFrame(Frame.Error, Buffer.from(JSON.stringify(peerSilentError(silentMs))));
        },
        liveness,
      );
    }
    this.unsubscribe = transport.subscribe(side === 'client' ? toClient : toServer, (data) => {
      if (!data.length || this.peerGone) return;
      const type = data[0] as FrameType;
      this.liveness?.heard();
      if (type === Frame.KeepAlive) return;
      if (type === Frame.Exit || type === Frame.Error) this.liveness?.stop();
      onFrame(type, Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1));
    });
    this.liveness?.start();
    // A server end exists because its client's request arrived, and the client subscribed before
    // sending it: the client is there now, so its silence counts from here, not from its first
    // frame (a client killed between its request and its Ready would otherwise never be noticed,
    // leaving an exec blocked on a window nobody grants back).
    if (side === 'server') this.liveness?.expectPeer();
  }

  /**
   * Resolves once the broker delivers this end's frames. A server end must wait for it before it
   * answers the request that named the stream: the answer travels on the bus server's connection,
   * this subscription on the client's, and NATS orders only one connection's messages — so the
   * client could get the answer, send its Ready before the broker knew this end, and lose it; both
   * ends then wait for each other for ever while their keep-alives say all is well (an attached
   * `muelle run` that printed nothing and never ended, under load).
   */
  subscribed(): Promise<void> {
    return this.transport.settled();
  }

  /** The peer must answer from now on (its request was accepted): its silence counts even before its first frame. */
  expectPeer(): void {
    this.liveness?.expectPeer();
  }

  send(type: FrameType, payload: Uint8Array | string = new Uint8Array()): void {
    // Nobody listens to a silent peer's subject any more: what it would be sent is dropped.
    if (this.peerGone) return;
    if (type === Frame.Exit || type === Frame.Error) this.liveness?.stop();
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    for (let offset = 0; offset === 0 || offset < bytes.length; offset += MAX_CHUNK) {
      this.publish(type, bytes.subarray(offset, offset + MAX_CHUNK));
      if (!bytes.length) break;
    }
  }

  sendJson(type: FrameType, value: unknown): void {
    this.send(type, JSON.stringify(value));
  }

  close(): void {
    this.liveness?.stop();
    this.unsubscribe();
  }

  private publish(type: FrameType, chunk: Uint8Array): void {
    const frame = new Uint8Array(chunk.length + 1);
    frame[0] = type;
    frame.set(chunk, 1);
    this.transport.publish(this.sendSubject, frame);
  }
}
