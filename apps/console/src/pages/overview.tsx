import { useState } from 'preact/hooks';
import { api, PlatformEvent, Session } from '../api';
import { Badge, Loaded, Meter, StateBadge } from '../components/ui';
import { ago, bytes } from '../format';
import { useEvents, useResource, useThrottled } from '../hooks';
import { href } from '../router';
import type { Container, Host, Page } from '../types';

const RECENT_EVENTS = 30;

/** Hosts with what they have left, container counts, and the platform's events as they happen. */
export function OverviewPage({ session }: { session: Session }) {
  const hosts = useResource(() => api<Page<Host>>('/v1/hosts?limit=1000'), []);
  const containers = useResource(() => api<Page<Container>>('/v1/containers?all=true&limit=1000'), []);
  const [events, setEvents] = useState<PlatformEvent[]>([]);
  const refresh = useThrottled(() => {
    hosts.reload();
    containers.reload();
  }, 500);
  const live = useEvents((event) => {
    setEvents((list) => [event, ...list].slice(0, RECENT_EVENTS));
    refresh();
  });
  const counts = (containers.data?.items ?? []).reduce<Record<string, number>>((acc, c) => ({ ...acc, [c.state]: (acc[c.state] ?? 0) + 1 }), {});
  return (
    <>
      <h1>Overview</h1>
      <p class="muted">{session.user.role === 'admin' ? 'The whole platform.' : `What team ${session.teamName ?? '(none)'} runs, on the platform's hosts.`}</p>
      <section class="tiles" aria-label="Containers by state">
        <Tile label="Running" value={counts.running ?? 0} tone="ok" />
        <Tile label="Exited" value={counts.exited ?? 0} tone="muted" />
        <Tile label="Other" value={Object.entries(counts).reduce((n, [s, c]) => (s === 'running' || s === 'exited' ? n : n + c), 0)} tone="info" />
        <Tile label="Hosts ready" value={(hosts.data?.items ?? []).filter((h) => h.state === 'ready').length} tone="ok" />
      </section>
      <div class="columns">
        <section aria-labelledby="hosts-title" class="card">
          <h2 id="hosts-title">Hosts</h2>
          <Loaded resource={hosts} what="hosts" empty={(p) => p.items.length === 0}>
            {(page) => (
              <ul class="host-list">
                {page.items.map((host) => (
                  <li key={host.id} class="host">
                    <div class="host-head">
                      <a href={href('hosts')}>{host.id}</a> <StateBadge state={host.state} /> {host.cordoned && <Badge tone="warn">cordoned</Badge>}
                      <span class="muted"> {host.address}</span>
                    </div>
                    <Meter label="CPU reserved" used={host.usage.reservedCpus} total={host.capacity.cpus} text={`${host.usage.reservedCpus} / ${host.capacity.cpus}`} />
                    <Meter
                      label="Memory reserved"
                      used={host.usage.reservedMemoryBytes}
                      total={host.capacity.memoryBytes}
                      text={`${bytes(host.usage.reservedMemoryBytes)} / ${bytes(host.capacity.memoryBytes)}`}
                    />
                    <p class="muted">
                      {host.usage.containers} containers · heartbeat {ago(host.lastHeartbeatAt)}
                    </p>
                  </li>
                ))}
              </ul>
            )}
          </Loaded>
        </section>
        <section aria-labelledby="events-title" class="card">
          <h2 id="events-title">
            Live events <Badge tone={live ? 'ok' : 'warn'}>{live ? 'connected' : 'connecting'}</Badge>
          </h2>
          {events.length === 0 ? (
            <p class="state state-empty">Nothing happened since you opened this page. Start a container to see it here.</p>
          ) : (
            <ol class="events" aria-live="polite">
              {events.map((event, index) => (
                <li key={`${event.id}-${event.at}-${index}`}>
                  <time dateTime={event.at}>{new Date(event.at).toLocaleTimeString()}</time> <Badge tone="info">{event.type}</Badge> {event.action}{' '}
                  {event.type === 'container' ? <a href={href('containers', String(event.attributes.name ?? event.id))}>{String(event.attributes.name ?? event.id)}</a> : <span>{event.id}</span>}
                  {event.attributes.hostId ? <span class="muted"> on {String(event.attributes.hostId)}</span> : null}
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
    </>
  );
}

function Tile({ label, value, tone }: { label: string; value: number; tone: string }) {
  return (
    <div class={`tile tile-${tone}`}>
      <span class="tile-value">{value}</span>
      <span class="tile-label">{label}</span>
    </div>
  );
}
