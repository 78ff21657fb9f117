import { useState } from 'preact/hooks';
import { api, query, Session } from '../api';
import { ActionButton, Choice, Loaded, StateBadge, Table, usePager } from '../components/ui';
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
  const set = (key: keyof typeof filters) => (value: string) => {
    pager.reset();
    setFilters({ ...filters, [key]: value });
  };
  return (
    <>
      <h1>Containers</h1>
      <form class="filters" role="search" aria-label="Filter containers" onSubmit={(e) => e.preventDefault()}>
        {isAdmin && <Choice label="Team" value={filters.team} none="All teams" options={(teams.data?.items ?? []).map((t) => ({ value: t.id, label: t.name }))} onChange={set('team')} />}
        <Choice label="Host" value={filters.host} none="All hosts" options={(hosts.data?.items ?? []).map((h) => ({ value: h.id, label: h.id }))} onChange={set('host')} />
        <Choice label="State" value={filters.state} none="Any state" options={STATES.map((state) => ({ value: state, label: state }))} onChange={set('state')} />
        <label>
          Label
          <input placeholder="key=value" value={filters.label} onChange={(e) => set('label')(e.currentTarget.value)} />
        </label>
      </form>
      <Loaded resource={containers} what="containers" empty={(p) => p.items.length === 0 && pager.page === 1}>
        {(page) => (
          <>
            <Table caption="Containers" columns={['Name', 'State', 'Image', 'Host', isAdmin && 'Team', 'Created', canChange(session) && 'Actions']}>
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
            </Table>
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
      <ActionButton
        label="Remove"
        name={`Remove ${container.name}`}
        danger
        confirm={`Remove ${container.name}${running ? ' (it is running: it will be killed)' : ''}?`}
        run={() => api(`${path}?force=true`, { method: 'DELETE' })}
        onDone={onDone}
      />
    </>
  );
}
