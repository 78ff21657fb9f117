import type { NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import type { FrameType } from '@muelle/contracts';
import { InProcessBroker } from './in-process-broker';

/**
 * Raw publish/subscribe of bytes, for what request/reply cannot carry: exec and attach sessions,
 * followed logs, build progress. NATS keeps the order of one publisher's messages, and so does
 * the in-process broker.
 */
export interface StreamTransport {
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, handler: (data: Uint8Array) => void): () => void;
}

export function natsStreams(connection: NatsConnection): StreamTransport {
  return {
    publish: (subject, data) => connection.publish(subject, data),
    subscribe(subject, handler) {
      const subscription = connection.subscribe(subject, { callback: (error, message) => !error && handler(message.data) });
      return () => subscription.unsubscribe();
    },
  };
}

export function inProcessStreams(broker: InProcessBroker): StreamTransport {
  return {
    publish: (subject, data) => broker.publishRaw(subject, data),
    subscribe: (subject, handler) => broker.subscribeRaw(subject, handler),
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
 */
export class StreamEnd {
  private readonly unsubscribe: () => void;
  private readonly sendSubject: string;

  constructor(
    private readonly transport: StreamTransport,
    readonly id: string,
    side: 'client' | 'server',
    onFrame: (type: FrameType, payload: Buffer) => void,
  ) {
    const { toServer, toClient } = subjects(id);
    this.sendSubject = side === 'client' ? toServer : toClient;
    this.unsubscribe = transport.subscribe(side === 'client' ? toClient : toServer, (data) => {
      if (data.length) onFrame(data[0] as FrameType, Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1));
    });
  }

  send(type: FrameType, payload: Uint8Array | string = new Uint8Array()): void {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    for (let offset = 0; offset === 0 || offset < bytes.length; offset += MAX_CHUNK) {
      const chunk = bytes.subarray(offset, offset + MAX_CHUNK);
      const frame = new Uint8Array(chunk.length + 1);
      frame[0] = type;
      frame.set(chunk, 1);
      this.transport.publish(this.sendSubject, frame);
      if (!bytes.length) break;
    }
  }

  sendJson(type: FrameType, value: unknown): void {
    this.send(type, JSON.stringify(value));
  }

  close(): void {
    this.unsubscribe();
  }
}
