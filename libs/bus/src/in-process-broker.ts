import { UnavailableError } from '@muelle/contracts';

type RequestHandler = (data: unknown) => Promise<unknown>;
type EventHandler = (data: unknown) => Promise<void> | void;

/**
 * The bus of a single process: subjects → handlers, with NATS's semantics where they matter
 * (a request goes to one handler of a queue, round robin; an event goes to every queue once;
 * payloads are copied so sender and receiver never share objects).
 */
export class InProcessBroker {
  private readonly requestHandlers = new Map<string, RequestHandler[]>();
  private readonly eventHandlers = new Map<string, EventHandler[]>();
  private readonly nextIndex = new Map<string, number>();
  private readonly rawSubscribers = new Map<string, Array<(data: Uint8Array) => void>>();

  handleRequests(subject: string, handler: RequestHandler): () => void {
    return add(this.requestHandlers, subject, handler);
  }

  handleEvents(subject: string, handler: EventHandler): () => void {
    return add(this.eventHandlers, subject, handler);
  }

  async request(subject: string, data: unknown): Promise<unknown> {
    const handlers = this.requestHandlers.get(subject);
    if (!handlers?.length) throw new UnavailableError(`no service answers ${subject}`);
    const index = (this.nextIndex.get(subject) ?? 0) % handlers.length;
    this.nextIndex.set(subject, index + 1);
    return copy(await handlers[index](copy(data)));
  }

  /** Raw bytes to every subscriber of a subject (exec/attach/log streams). */
  publishRaw(subject: string, data: Uint8Array): void {
    const copyOfData = Uint8Array.from(data);
    for (const handler of this.rawSubscribers.get(subject) ?? []) setImmediate(() => handler(copyOfData));
  }

  subscribeRaw(subject: string, handler: (data: Uint8Array) => void): () => void {
    return add(this.rawSubscribers, subject, handler);
  }

  emit(subject: string, data: unknown): void {
    for (const handler of this.eventHandlers.get(subject) ?? []) {
      // Delivered on a later tick, as over a network: the sender never waits for receivers.
      setImmediate(() => void Promise.resolve(handler(copy(data))).catch(() => undefined));
    }
  }
}

function add<T>(map: Map<string, T[]>, subject: string, handler: T): () => void {
  const list = map.get(subject) ?? [];
  list.push(handler);
  map.set(subject, list);
  return () => {
    const current = map.get(subject) ?? [];
    map.set(
      subject,
      current.filter((h) => h !== handler),
    );
  };
}

function copy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
