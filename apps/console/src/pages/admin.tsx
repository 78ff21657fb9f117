import { useState } from 'preact/hooks';
import { api, query, Session } from '../api';
import { ActionButton, Badge, Choice, Loaded, Table, usePager } from '../components/ui';
import { ago } from '../format';
import { useResource } from '../hooks';
import type { AuditEntry, Page, Team, TokenRecord, UserSummary } from '../types';
import { TeamLimits } from './team-limits';

const SECTIONS = ['teams', 'users', 'tokens', 'audit'] as const;
type Section = (typeof SECTIONS)[number];

/** Platform administration (admins only: the server refuses everyone else anyway). */
export function AdminPage({ session }: { session: Session }) {
  const [section, setSection] = useState<Section>('teams');
  return (
    <>
      <h1>Admin</h1>
      <div role="tablist" aria-label="Administration" class="tabs">
        {SECTIONS.map((s) => (
          <button
            key={s}
            type="button"
            role="tab"
            id={`tab-${s}`}
            aria-selected={section === s}
            aria-controls={`panel-${s}`}
            class={section === s ? 'tab active' : 'tab'}
            onClick={() => setSection(s)}
          >
            {s === 'audit' ? 'Audit log' : s[0].toUpperCase() + s.slice(1)}
          </button>
        ))}
      </div>
      <section role="tabpanel" id={`panel-${section}`} aria-labelledby={`tab-${section}`} class="panel">
        {section === 'teams' && <Teams />}
        {section === 'users' && <Users />}
        {section === 'tokens' && <Tokens session={session} />}
        {section === 'audit' && <Audit />}
      </section>
    </>
  );
}

function Teams() {
  const teams = useResource(() => api<{ items: Team[] }>('/v1/teams'), []);
  const [name, setName] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="New team">
        <label class="inline">
          New team
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="name" />
        </label>
        <ActionButton label="Create team" small={false} run={() => api('/v1/teams', { body: { name } })} onDone={() => (setName(''), teams.reload())} />
      </form>
      <Loaded resource={teams} what="teams" empty={(t) => t.items.length === 0}>
        {(data) => (
          <ul class="team-list">
            {data.items.map((team) => (
              <li key={team.id} class="card">
                <button type="button" class="btn btn-link" aria-expanded={open === team.id} onClick={() => setOpen(open === team.id ? null : team.id)}>
                  {team.name}
                </button>
                <span class="muted mono"> {team.id}</span>
                {open === team.id && <TeamLimits team={team} />}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </>
  );
}

function Users() {
  const users = useResource(() => api<{ items: UserSummary[] }>('/v1/users'), []);
  const teams = useResource(() => api<{ items: Team[] }>('/v1/teams'), []);
  const [draft, setDraft] = useState({ username: '', password: '', role: 'member', teamId: '' });
  const field = (key: keyof typeof draft) => (e: Event) => setDraft({ ...draft, [key]: (e.currentTarget as HTMLInputElement).value });
  return (
    <>
      <form class="toolbar wrap" onSubmit={(e) => e.preventDefault()} aria-label="New user">
        <label class="inline">
          Username
          <input value={draft.username} onInput={field('username')} />
        </label>
        <label class="inline">
          Password
          <input type="password" autocomplete="new-password" value={draft.password} onInput={field('password')} />
        </label>
        <label class="inline">
          Role
          <select value={draft.role} onChange={field('role')}>
            <option value="member">member</option>
            <option value="viewer">viewer</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <Choice
          label="Team"
          value={draft.teamId}
          none="no team"
          options={(teams.data?.items ?? []).map((t) => ({ value: t.id, label: t.name }))}
          onChange={(teamId) => setDraft({ ...draft, teamId })}
        />
        <ActionButton
          label="Create user"
          small={false}
          run={() => api('/v1/users', { body: { ...draft, teamId: draft.teamId || null } })}
          onDone={() => (setDraft({ ...draft, username: '', password: '' }), users.reload())}
        />
      </form>
      <Loaded resource={users} what="users" empty={(u) => u.items.length === 0}>
        {(data) => (
          <Table caption="Users" columns={['User', 'Role', 'Team', 'State', 'Actions']}>
            {data.items.map((user) => (
              <tr key={user.id}>
                <td>{user.username}</td>
                <td>{user.role}</td>
                <td>{user.teamName ?? '—'}</td>
                <td>{user.disabled ? <Badge tone="bad">disabled</Badge> : <Badge tone="ok">active</Badge>}</td>
                <td>
                  <ActionButton
                    label={user.disabled ? 'Enable' : 'Disable'}
                    name={`${user.disabled ? 'Enable' : 'Disable'} ${user.username}`}
                    danger={!user.disabled}
                    run={() => api(`/v1/users/${encodeURIComponent(user.username)}/${user.disabled ? 'enable' : 'disable'}`, { method: 'POST' })}
                    onDone={users.reload}
                  />
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
    </>
  );
}

function Tokens({ session }: { session: Session }) {
  const tokens = useResource(() => api<{ items: TokenRecord[] }>('/v1/auth/tokens'), []);
  return (
    <Loaded resource={tokens} what="tokens" empty={(t) => t.items.length === 0}>
      {(data) => (
        <Table caption="Live tokens" columns={['Name', 'Login', 'Kind', 'Scopes', 'Expires', 'Actions']}>
          {data.items.map((token) => (
            <tr key={token.id}>
              <td>{token.name}</td>
              <td>{token.loginName}</td>
              <td>{token.kind}</td>
              <td class="mono">{token.scopes?.join(' ') ?? 'all of the role'}</td>
              <td>{token.expiresAt ? new Date(token.expiresAt).toLocaleString() : 'never'}</td>
              <td>
                <ActionButton
                  label="Revoke"
                  name={`Revoke ${token.name} of ${token.loginName}`}
                  danger
                  confirm={`Revoke ${token.name} of ${token.loginName}?${token.loginName === session.user.username ? ' If it is this session, you will be signed out.' : ''}`}
                  run={() => api(`/v1/auth/tokens/${token.id}`, { method: 'DELETE' })}
                  onDone={tokens.reload}
                />
              </td>
            </tr>
          ))}
        </Table>
      )}
    </Loaded>
  );
}

function Audit() {
  const [filters, setFilters] = useState({ actor: '', action: '', target: '' });
  const pager = usePager();
  const entries = useResource(() => api<Page<AuditEntry>>(`/v1/audit${query({ limit: 50, cursor: pager.cursor, ...filters })}`), [filters, pager.cursor]);
  const set = (key: keyof typeof filters) => (e: Event) => {
    pager.reset();
    setFilters({ ...filters, [key]: (e.currentTarget as HTMLInputElement).value });
  };
  return (
    <>
      <form class="filters" role="search" aria-label="Filter the audit log" onSubmit={(e) => e.preventDefault()}>
        <label>
          Who
          <input value={filters.actor} onChange={set('actor')} placeholder="username" />
        </label>
        <label>
          Action
          <input value={filters.action} onChange={set('action')} placeholder="container.create" />
        </label>
        <label>
          Target
          <input value={filters.target} onChange={set('target')} placeholder="host:web-1" />
        </label>
      </form>
      <Loaded resource={entries} what="audit entries" empty={(p) => p.items.length === 0 && pager.page === 1}>
        {(page) => (
          <>
            <Table caption="Audit log, newest first" columns={['When', 'Who', 'Action', 'Target', 'Details']}>
              {page.items.map((entry) => (
                <tr key={entry.id}>
                  <td title={entry.at}>{ago(entry.at)}</td>
                  <td>{entry.actor}</td>
                  <td class="mono">{entry.action}</td>
                  <td class="mono">{entry.target}</td>
                  <td class="mono details">{entry.details ? JSON.stringify(entry.details) : ''}</td>
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
