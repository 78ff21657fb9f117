import { useState } from 'preact/hooks';
import { api, query, Session } from '../api';
import { ActionButton, Loaded, StateBadge, usePager } from '../components/ui';
import { ago, shortId } from '../format';
import { useEvents, useResource, useThrottled } from '../hooks';
import { href } from '../router';
import type { Container, Host, Page, Team } from '../types';

const STATES = ['running', 'created', 'exited', 'restarting', 'paused', 'lost', 'dead'];
const PAGE_SIZE = 50;

export const canChange = (session: Session) => session.user.role !== 'viewer';

/** Every container the caller may see, filtered by team, host, state and label; updates live. */
export function ContainersPage({ session }: { session: Session }) {
  const [filters, setFilters] = useState({ team: '', host: '', state: '', label: '' });
  const pager = usePager();
  const isAdmin = session.user.role === 'admin';
  const containers = useResource(
    () => api<Page<Container>>(`/v1/containers${query({ all: true, limit: PAGE_SIZE, cursor: pager.cursor, team: filters.team, host: filters.host, state: filters.state, label: filters.label })}`),
    [filters, pager.cursor],
  );
  const hosts = useResource(() => api<Page<Host>>('/v1/hosts?limit=1000'), []);
  const teams = useResource(() => (isAdmin ? api<{ items: Team[] }>('/v1/teams') : Promise.resolve({ items: [] as Team[] })), [isAdmin]);
  const teamName = (id: string | null) => (id ? (teams.data?.items.find((t) => t.id === id)?.name ?? (id === session.teamId ? session.teamName : shortId(id))) : '—');
  const reload = useThrottled(containers.reload, 400);
  useEvents((event) => event.type === 'container' && reload());
  const set = (key: keyof typeof filters) => (event: Event) => {
    pager.reset();
    setFilters({ ...filters, [key]: (event.currentTarget as HTMLInputElement).value });
  };
  return (
    <>
      <h1>Containers</h1>
      <form class="filters" role="search" aria-label="Filter containers" onSubmit={(e) => e.preventDefault()}>
        {isAdmin && (
          <label>
            Team
            <select value={filters.team} onChange={set('team')}>
              <option value="">All teams</option>
              {(teams.data?.items ?? []).map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Host
          <select value={filters.host} onChange={set('host')}>
            <option value="">All hosts</option>
            {(hosts.data?.items ?? []).map((h) => (
              <option key={h.id} value={h.id}>
                {h.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          State
          <select value={filters.state} onChange={set('state')}>
            <option value="">Any state</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Label
          <input placeholder="key=value" value={filters.label} onChange={set('label')} />
        </label>
      </form>
      <Loaded resource={containers} what="containers" empty={(p) => p.items.length === 0 && pager.page === 1}>
        {(page) => (
          <>
            <div class="table-wrap">
              <table class="table">
                <caption class="sr-only">Containers</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">State</th>
                    <th scope="col">Image</th>
                    <th scope="col">Host</th>
                    {isAdmin && <th scope="col">Team</th>}
                    <th scope="col">Created</th>
                    {canChange(session) && <th scope="col">Actions</th>}
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((c) => (
                    <tr key={c.id} data-container={c.name}>
                      <td>
                        <a href={href('containers', c.name)}>{c.name}</a>
                        <div class="muted mono">{shortId(c.id)}</div>
                      </td>
                      <td>
                        <StateBadge state={c.state} />
                        {c.state === 'exited' && <span class="muted"> ({c.exitCode})</span>}
                      </td>
                      <td class="mono">{c.image}</td>
                      <td>{c.hostId ?? '—'}</td>
                      {isAdmin && <td>{teamName(c.teamId)}</td>}
                      <td>{ago(c.createdAt)}</td>
                      {canChange(session) && (
                        <td class="actions">
                          <ContainerActions container={c} onDone={containers.reload} />
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {pager.controls(page.nextCursor)}
          </>
        )}
      </Loaded>
    </>
  );
}

export function ContainerActions({ container, onDone }: { container: Container; onDone: () => void }) {
  const path = `/v1/containers/${encodeURIComponent(container.id)}`;
  const running = container.state === 'running' || container.state === 'restarting';
  return (
    <>
      {!running && <ActionButton label="Start" name={`Start ${container.name}`} run={() => api(`${path}/start`, { method: 'POST' })} onDone={onDone} />}
      {running && <ActionButton label="Stop" name={`Stop ${container.name}`} run={() => api(`${path}/stop`, { method: 'POST' })} onDone={onDone} />}
      <ActionButton label="Restart" name={`Restart ${container.name}`} run={() => api(`${path}/restart`, { method: 'POST' })} onDone={onDone} />
      <ActionButton label="Remove" name={`Remove ${container.name}`} danger confirm={`Remove ${container.name}${running ? ' (it is running: it will be killed)' : ''}?`} run={() => api(`${path}?force=true`, { method: 'DELETE' })} onDone={onDone} />
    </>
  );
}
