import { BaseRpcContext, ClientProxy, CustomTransportStrategy, ReadPacket, Server, WritePacket } from '@nestjs/microservices';
import { lastValueFrom, isObservable } from 'rxjs';
import { InProcessBroker } from './in-process-broker';

export class InProcessContext extends BaseRpcContext<[string]> {
  getSubject(): string {
    return this.args[0];
  }
}

/** Nest microservice strategy that serves @MessagePattern/@EventPattern handlers from an InProcessBroker. */
export class InProcessServer extends Server implements CustomTransportStrategy {
  private unsubscribers: Array<() => void> = [];

  constructor(private readonly broker: InProcessBroker) {
    super();
  }

  listen(callback: (...optionalParams: unknown[]) => void): void {
    for (const [subject, handler] of this.messageHandlers) {
      if (handler.isEventHandler) {
        this.unsubscribers.push(
          this.broker.handleEvents(subject, (data) =>
            this.handleEvent(subject, { pattern: subject, data }, new InProcessContext([subject])),
          ),
        );
      } else {
        this.unsubscribers.push(
          this.broker.handleRequests(subject, async (data) => {
            const result = await handler(data, new InProcessContext([subject]));
            return isObservable(result) ? lastValueFrom(result) : result;
          }),
        );
      }
    }
    this._status$.next('connected');
    callback();
  }

  close(): void {
    this.unsubscribers.forEach((stop) => stop());
    this.unsubscribers = [];
  }

  on(): void {
    // The in-process broker has no connection events to listen to.
  }

  unwrap<T>(): T {
    return this.broker as T;
  }
}

/** Nest client proxy over an InProcessBroker, so code that sends messages is transport-agnostic. */
export class InProcessClient extends ClientProxy {
  constructor(private readonly broker: InProcessBroker) {
    super();
  }

  async connect(): Promise<void> {
    this._status$.next('connected');
  }

  close(): void {
    // Nothing to release: the broker lives as long as the process.
  }

  unwrap<T>(): T {
    return this.broker as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    let disposed = false;
    this.broker.request(packet.pattern as string, packet.data).then(
      (response) => !disposed && callback({ response, isDisposed: true }),
      (err) => !disposed && callback({ err: toPlainError(err), isDisposed: true }),
    );
    return () => {
      disposed = true;
    };
  }

  protected async dispatchEvent<T = undefined>(packet: ReadPacket): Promise<T> {
    this.broker.emit(packet.pattern as string, packet.data);
    return undefined as T;
  }
}

// Errors cross the in-process bus as plain objects, exactly as they would cross NATS.
function toPlainError(err: unknown): unknown {
  if (err && typeof err === 'object' && 'toWire' in err && typeof (err as { toWire: unknown }).toWire === 'function') {
    return (err as { toWire: () => unknown }).toWire();
  }
  return err;
}
