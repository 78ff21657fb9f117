import { InvalidArgumentError } from '@muelle/contracts';
import type { PlatformEvent, PlatformEventType } from './event-hub';

/** The filters `docker events --filter` and `muelle events --filter` take (Docker's names). */
export const EVENT_FILTER_KEYS = ['type', 'event', 'container', 'image', 'label'] as const;
export type EventFilterKey = (typeof EVENT_FILTER_KEYS)[number];
export type EventFilters = Partial<Record<EventFilterKey, string[]>>;

const TYPES: readonly PlatformEventType[] = ['container', 'image', 'host', 'service'];

/**
 * Checks `key → values` as given (Docker's `filters` JSON or `-f key=value` pairs): an unknown key
 * or type is refused naming it, never ignored.
 */
export function eventFilters(raw: Record<string, string[]>, unsupported: (what: string) => Error): EventFilters {
  const filters: EventFilters = {};
  for (const [key, values] of Object.entries(raw)) {
    if (!(EVENT_FILTER_KEYS as readonly string[]).includes(key)) throw unsupported(`the events filter ${key}`);
    if (key === 'type') for (const type of values) if (!(TYPES as readonly string[]).includes(type)) throw unsupported(`events of type ${type}`);
    filters[key as EventFilterKey] = values;
  }
  return filters;
}

/** `-f key=value` pairs (muelle's CLI, `/v1/events?filter=`) → filters; the same checks. */
export function eventFiltersFromPairs(pairs: string[], unsupported: (what: string) => Error): EventFilters {
  const raw: Record<string, string[]> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new InvalidArgumentError(`filter "${pair}": key=value`, { field: 'filter' });
    (raw[pair.slice(0, at)] ??= []).push(pair.slice(at + 1));
  }
  return eventFilters(raw, unsupported);
}

/**
 * Docker's matching: values of one key are alternatives, keys must all match. `event=health_status`
 * also matches `health_status: healthy`; `container=` is an id prefix or a name; `image=` names the
 * image of a container event or the image of an image event; `label=k` or `label=k=v`.
 */
export function eventMatches(event: PlatformEvent, filters: EventFilters): boolean {
  if (filters.type && !filters.type.includes(event.type)) return false;
  if (filters.event && !filters.event.some((e) => e === event.action || event.action.startsWith(`${e}: `))) return false;
  if (filters.container && !(event.type === 'container' && filters.container.some((c) => event.id.startsWith(c) || event.attributes.name === c))) return false;
  if (filters.image && !filters.image.some((image) => (event.type === 'image' ? event.id === image || event.id.endsWith(`/${image}`) : event.attributes.image === image))) return false;
  if (filters.label) {
    const labels = event.labels ?? {};
    const hasLabel = (spec: string) => {
      const at = spec.indexOf('=');
      return at < 0 ? spec in labels : labels[spec.slice(0, at)] === spec.slice(at + 1);
    };
    if (!filters.label.every(hasLabel)) return false;
  }
  return true;
}

/**
 * A time bound of `since`/`until`: unix seconds as the docker CLI sends them (`1700000000.123456789`)
 * or an RFC 3339 time; → epoch ms. `field` names it in the 400.
 */
export function parseEventTime(text: string, field: string): number {
  const value = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`${field}: "${text}" is not unix seconds or an RFC 3339 time`, { field });
  return ms;
}
