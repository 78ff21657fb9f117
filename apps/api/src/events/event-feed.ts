import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { listEvents } from '@muelle/contracts';
import { RequestPrincipal, seesEvent, teamScope } from '../auth/principal';
import { EventFilters, eventMatches } from './event-filter';
import { EventHub, PlatformEvent } from './event-hub';

/** Events replayed from the history at most, per request (the history's own bound is larger). */
const MAX_REPLAYED = 10_000;

export interface EventWindow {
  /** Epoch ms; given: the history from then is replayed first. */
  since?: number;
  /** Epoch ms; given: the feed ends then (at once when it is past). */
  until?: number;
  filters: EventFilters;
}

export interface EventSink {
  event(event: PlatformEvent): void;
  end(): void;
}

/**
 * One caller's event feed, shared by `GET /v1/events` and the Docker API's `/events`: the history
 * of `[since, until]` from metadata, then live events until `until`, each one shown only when the
 * caller's `decide()` lets it see the event (`seesEvent`) and the filters match.
 */
@Injectable()
export class EventFeed {
  constructor(
    private readonly hub: EventHub,
    private readonly bus: BusClient,
  ) {}

  /** Starts the feed; the answer stops it (the client left). */
  async open(principal: RequestPrincipal, window: EventWindow, sink: EventSink): Promise<() => void> {
    const visible = (event: PlatformEvent) => seesEvent(principal, event) && eventMatches(event, window.filters);
    const now = Date.now();
    const live = window.until === undefined || window.until > now;
    let stopped = false;
    let replaying = true;
    const held: PlatformEvent[] = [];
    // Subscribed before the history is read, so an event of that moment is in one or the other (or both: deduplicated).
    const unsubscribe = live
      ? this.hub.subscribe((event) => {
          if (stopped || !visible(event)) return;
          if (replaying) held.push(event);
          else sink.event(event);
        })
      : () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      clearTimeout(timer);
    };
    try {
      const seen = new Set<string>();
      if (window.since !== undefined || window.until !== undefined) {
        const { items } = await this.bus.request(listEvents, {
          since: new Date(window.since ?? 0).toISOString(),
          until: new Date(Math.min(window.until ?? now, now)).toISOString(),
          teamId: teamScope(principal),
          types: window.filters.type as PlatformEvent['type'][] | undefined,
          limit: MAX_REPLAYED,
        });
        for (const event of items) {
          if (stopped) break;
          if (!visible(event)) continue;
          seen.add(keyOf(event));
          sink.event(event);
        }
      }
      replaying = false;
      for (const event of held.splice(0)) if (!stopped && !seen.has(keyOf(event))) sink.event(event);
    } catch (error) {
      stop();
      throw error;
    }
    if (!live) {
      stop();
      sink.end();
    } else if (window.until !== undefined) {
      timer = setTimeout(() => {
        stop();
        sink.end();
      }, window.until - Date.now());
    }
    return stop;
  }
}

const keyOf = (event: PlatformEvent) => `${event.type}|${event.id}|${event.action}|${Date.parse(event.at)}`;
