import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';

export type PlatformEventType = 'container' | 'image' | 'host';

/** One line of `GET /v1/events`: what happened to which object, and the team it belongs to. */
export interface PlatformEvent {
  type: PlatformEventType;
  action: string;
  id: string;
  /** null: visible to everybody (hosts); else only to that team and admins. */
  teamId: string | null;
  at: string;
  attributes: Record<string, unknown>;
}

/** Fans events out to every SSE subscriber of this api process. */
@Injectable()
export class EventHub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(event: Omit<PlatformEvent, 'at'> & { at?: string }): void {
    this.emitter.emit('event', {
      ...event,
      at: event.at ?? new Date().toISOString(),
    });
  }

  subscribe(listener: (event: PlatformEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
