import {
  EventContract,
  PayloadOf,
  ReplyOf,
  RequestContract,
  RequestOf,
  TimeoutError,
  UnavailableError,
  isWireError,
  fromWire,
  validateMessage,
  InternalError,
  MuelleError,
} from '@muelle/contracts';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout, TimeoutError as RxTimeoutError } from 'rxjs';
import { z } from 'zod';
import type { NatsConnection } from 'nats';
import { InProcessBroker } from './in-process-broker';
import { inProcessStreams, natsStreams, StreamTransport } from './streams';

export interface BusObserver {
  /** Called once per request with its subject, outcome and duration, for metrics. */
  onRequest(subject: string, outcome: 'ok' | 'error' | 'timeout', seconds: number): void;
}

/**
 * What services use to talk to each other: typed, validated at both ends, with timeouts
 * and typed errors. The transport underneath (NATS or in-process) is invisible here.
 */
export class BusClient {
  constructor(
    private readonly proxy: ClientProxy,
    private readonly observer?: BusObserver,
  ) {}

  async connect(): Promise<void> {
    await this.proxy.connect();
  }

  async close(): Promise<void> {
    await this.proxy.close();
  }

  /** Raw byte streams on the same connection (exec, attach, followed logs); call after connect(). */
  streams(): StreamTransport {
    const underlying = this.proxy.unwrap<unknown>();
    return underlying instanceof InProcessBroker ? inProcessStreams(underlying) : natsStreams(underlying as NatsConnection);
  }

  async request<C extends RequestContract<z.ZodType, z.ZodType>>(
    contract: C,
    payload: RequestOf<C>,
    options: { timeoutMs?: number } = {},
  ): Promise<ReplyOf<C>> {
    const message = validateMessage(contract.request, payload, `request for ${contract.subject}`);
    const started = process.hrtime.bigint();
    const waitMs = options.timeoutMs ?? contract.timeoutMs;
    let outcome: 'ok' | 'error' | 'timeout' = 'error';
    try {
      const reply = await firstValueFrom(this.proxy.send(contract.subject, message).pipe(timeout(waitMs)));
      outcome = 'ok';
      return validateMessage(contract.reply, reply, `reply from ${contract.subject}`) as ReplyOf<C>;
    } catch (error) {
      if (error instanceof RxTimeoutError) {
        outcome = 'timeout';
        throw new TimeoutError(`no reply to ${contract.subject} within ${waitMs} ms`);
      }
      throw toBusError(error, contract.subject);
    } finally {
      this.observer?.onRequest(contract.subject, outcome, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async emit<C extends EventContract<z.ZodType>>(contract: C, payload: PayloadOf<C>): Promise<void> {
    const message = validateMessage(contract.payload, payload, `event ${contract.subject}`);
    await firstValueFrom(this.proxy.emit(contract.subject, message), { defaultValue: undefined });
  }
}

function toBusError(error: unknown, subject: string): MuelleError {
  if (error instanceof MuelleError) return error;
  if (isWireError(error)) return fromWire(error);
  const text = String((error as Error)?.message ?? error);
  // NATS answers at once with 503 when no subscriber exists for a subject.
  if ((error as { code?: string })?.code === '503' || /no responders|no subscribers/i.test(text)) return new UnavailableError(`no service answers ${subject}`);
  if (/connection|reconnect|closed|CONNECTION_REFUSED/i.test(text)) return new UnavailableError(`bus unavailable for ${subject}: ${text}`);
  return new InternalError(`bad reply from ${subject}`);
}
