import { Controller, Inject, Injectable } from '@nestjs/common';
import { BusClient, HandleEvent } from '@muelle/bus';
import { PlatformEvent, platformEventPublished } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export type { PlatformEvent } from '@muelle/contracts';
export type PlatformEventType = PlatformEvent['type'];

/**
 * Fans events out to every SSE and `docker events` subscriber of every api replica: `publish`
 * sends the event over the bus, and each replica's `PlatformEventsListener` (outside the queue
 * group) hands it to its own subscribers, so whichever replica saw it, all of them show it.
 */
@Injectable()
export class EventHub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  constructor(
    private readonly bus: BusClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  publish(event: Omit<PlatformEvent, 'at'> & { at?: string }): void {
    const full: PlatformEvent = { ...event, at: event.at ?? new Date().toISOString() };
    // Events are a live feed, not a record (the audit log is): one the bus could not carry is logged and gone.
    this.bus.emit(platformEventPublished, full).catch((error: unknown) => this.logger.warn({ err: error, event: full.action }, 'event not published'));
  }

  /** This replica's subscribers get `event` (called by the bus listener). */
  deliver(event: PlatformEvent): void {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: PlatformEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}

@Controller()
export class PlatformEventsListener {
  constructor(private readonly hub: EventHub) {}

  @HandleEvent(platformEventPublished, { everyReplica: true })
  onPublished(event: PlatformEvent) {
    this.hub.deliver(event);
  }
}
