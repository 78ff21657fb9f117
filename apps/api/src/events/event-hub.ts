import { Controller, Inject, Injectable } from '@nestjs/common';
import { BusClient, HandleEvent } from '@muelle/bus';
import { PlatformEvent, platformEventPublished, PlatformEventType, recordEvent, StoredPlatformEvent } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export type { PlatformEvent, PlatformEventType };

const DESTROY_MEMORY_MS = 60_000;

/**
 * Fans events out to every SSE and `docker events` subscriber of every api replica, and records
 * each in metadata's history (`events --since`). `publish` records the event once (it runs on the
 * one replica that saw it happen) and sends it over the bus; each replica's
 * `PlatformEventsListener` (outside the queue group) hands it to its own subscribers.
 */
@Injectable()
export class EventHub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  /** `destroy` events published lately, by container id (see `publishDestroyOnce`). */
  private readonly destroyed = new Map<string, number>();

  constructor(
    private readonly bus: BusClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  publish(event: Omit<PlatformEvent, 'at'> & { at?: string }): void {
    const full: PlatformEvent = { ...event, at: event.at ?? new Date().toISOString() };
    // The live feed is not a record (the audit log is): an event the bus could not carry is logged and gone.
    this.bus.emit(platformEventPublished, full).catch((error: unknown) => this.logger.warn({ err: error, event: full.action }, 'event not published'));
    this.bus.request(recordEvent, storable(full)).catch((error: unknown) => {
      // Live subscribers have it already; only a later `--since` misses it, so the caller is not failed for it.
      this.logger.warn({ err: error, event: { type: full.type, action: full.action, id: full.id } }, 'recording an event in the history failed');
    });
  }

  /** This replica's subscribers get `event` (called by the bus listener). */
  deliver(event: PlatformEvent): void {
    this.emitter.emit('event', event);
  }

  /**
   * A container's `destroy` is seen twice — by `rm` in the api and as the agent's `dead` state
   * change — in either order: the second one within a minute is dropped (in this api process).
   */
  publishDestroyOnce(event: Omit<PlatformEvent, 'at' | 'action'> & { at?: string }): void {
    const now = Date.now();
    for (const [id, at] of this.destroyed) if (now - at > DESTROY_MEMORY_MS) this.destroyed.delete(id);
    if (this.destroyed.has(event.id)) return;
    this.destroyed.set(event.id, now);
    this.publish({ ...event, action: 'destroy' });
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

/** Attribute values as the history keeps them: strings, numbers, booleans and null; anything else as JSON text. */
export function storable(event: PlatformEvent): StoredPlatformEvent {
  const attributes: StoredPlatformEvent['attributes'] = {};
  for (const [key, value] of Object.entries(event.attributes)) {
    if (value === undefined) continue;
    attributes[key] = value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
  return { type: event.type, action: event.action, id: event.id, teamId: event.teamId, at: event.at, attributes, ...(event.labels ? { labels: event.labels } : {}) };
}
