import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { PlatformEventType, recordEvent, StoredPlatformEvent } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export type { PlatformEventType };

const DESTROY_MEMORY_MS = 60_000;

/** One line of `GET /v1/events`: what happened to which object, and the team it belongs to. */
export interface PlatformEvent {
  type: PlatformEventType;
  action: string;
  id: string;
  /** null: visible to everybody (hosts); else only to that team and admins. */
  teamId: string | null;
  at: string;
  attributes: Record<string, unknown>;
  /** A container's labels (`label=` filters). */
  labels?: Record<string, string>;
}

/**
 * Fans events out to every SSE subscriber of this api process and records each in metadata's
 * history (`events --since`). Each event is published by one api replica (bus events reach one
 * replica of the queue group; requests are served by one), so it is recorded once.
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
    this.emitter.emit('event', full);
    this.bus.request(recordEvent, storable(full)).catch((error) => {
      // Live subscribers have it already; only a later `--since` misses it, so the caller is not failed for it.
      this.logger.warn({ err: error, event: { type: full.type, action: full.action, id: full.id } }, 'recording an event in the history failed');
    });
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

/** Attribute values as the history keeps them: strings, numbers, booleans and null; anything else as JSON text. */
export function storable(event: PlatformEvent): StoredPlatformEvent {
  const attributes: StoredPlatformEvent['attributes'] = {};
  for (const [key, value] of Object.entries(event.attributes)) {
    if (value === undefined) continue;
    attributes[key] = value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
  return { type: event.type, action: event.action, id: event.id, teamId: event.teamId, at: event.at, attributes, ...(event.labels ? { labels: event.labels } : {}) };
}
