import { InvalidArgumentError } from '@muelle/contracts';
import { eventFilters, eventFiltersFromPairs, eventMatches, parseEventTime } from './event-filter';
import type { PlatformEvent } from './event-hub';

const container = (action: string, extra: Partial<PlatformEvent> = {}): PlatformEvent => ({
  type: 'container',
  action,
  id: 'c0ffee0000000000000000000000000000000000000000000000000000000001',
  teamId: null,
  at: '2026-12-03T10:00:00.000Z',
  attributes: { name: 'web', image: 'alpha/web:1' },
  labels: { tier: 'front', owner: 'ann' },
  ...extra,
});
const image: PlatformEvent = { type: 'image', action: 'tag', id: '127.0.0.1:5000/alpha/web:2', teamId: null, at: '2026-12-03T10:00:00.000Z', attributes: {} };
const unsupported = (what: string) => new Error(`${what} is not supported`);

describe('event filters (docker events --filter, muelle events -f)', () => {
  const matches = (event: PlatformEvent, raw: Record<string, string[]>) => eventMatches(event, eventFilters(raw, unsupported));

  it('type, event and container (id prefix or name); values of one key are alternatives', () => {
    expect(matches(container('start'), {})).toBe(true);
    expect(matches(container('start'), { type: ['image'] })).toBe(false);
    expect(matches(container('start'), { type: ['image', 'container'] })).toBe(true);
    expect(matches(container('start'), { event: ['die', 'start'] })).toBe(true);
    expect(matches(container('die'), { event: ['start'] })).toBe(false);
    expect(matches(container('health_status: healthy'), { event: ['health_status'] })).toBe(true);
    expect(matches(container('start'), { container: ['c0ffee'] })).toBe(true);
    expect(matches(container('start'), { container: ['web'] })).toBe(true);
    expect(matches(container('start'), { container: ['db', 'ffee'] })).toBe(false);
    expect(matches(image, { container: ['web'] })).toBe(false);
  });

  it("image: a container event's image, or an image event's name (with or without the registry)", () => {
    expect(matches(container('start'), { image: ['alpha/web:1'] })).toBe(true);
    expect(matches(container('start'), { image: ['alpha/web:2'] })).toBe(false);
    expect(matches(image, { image: ['alpha/web:2'] })).toBe(true);
    expect(matches(image, { image: ['127.0.0.1:5000/alpha/web:2'] })).toBe(true);
    expect(matches(image, { image: ['web:2'] })).toBe(true);
    expect(matches(image, { image: ['eb:2'] })).toBe(false);
  });

  it('label=k and label=k=v must all match; an event without labels matches none', () => {
    expect(matches(container('start'), { label: ['tier'] })).toBe(true);
    expect(matches(container('start'), { label: ['tier=front', 'owner=ann'] })).toBe(true);
    expect(matches(container('start'), { label: ['tier=front', 'owner=bob'] })).toBe(false);
    expect(matches(container('start'), { label: ['missing'] })).toBe(false);
    expect(matches(image, { label: ['tier'] })).toBe(false);
  });

  it('keys must all match', () => {
    expect(matches(container('start'), { type: ['container'], event: ['start'], label: ['tier=front'] })).toBe(true);
    expect(matches(container('start'), { type: ['container'], event: ['start'], label: ['tier=back'] })).toBe(false);
  });

  it('refuses a filter or a type it does not know, naming it', () => {
    expect(() => eventFilters({ network: ['x'] }, unsupported)).toThrow('the events filter network is not supported');
    expect(() => eventFilters({ type: ['volume'] }, unsupported)).toThrow('events of type volume is not supported');
    expect(() => eventFiltersFromPairs(['event'], unsupported)).toThrow(InvalidArgumentError);
    expect(eventFiltersFromPairs(['label=a=b', 'label=c', 'type=image'], unsupported)).toEqual({ label: ['a=b', 'c'], type: ['image'] });
    expect(eventFiltersFromPairs(['type=service', 'event=update'], unsupported)).toEqual({ type: ['service'], event: ['update'] });
  });

  it('reads since/until as the docker CLI sends them (unix seconds with nanoseconds) or RFC 3339', () => {
    expect(parseEventTime('1764756000.500000000', 'since')).toBe(1764756000500);
    expect(parseEventTime('2026-12-03T10:00:00Z', 'since')).toBe(Date.parse('2026-12-03T10:00:00Z'));
    expect(() => parseEventTime('yesterday', 'query.since')).toThrow('query.since: "yesterday" is not unix seconds or an RFC 3339 time');
  });
});
