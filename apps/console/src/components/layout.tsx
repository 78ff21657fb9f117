import type { ComponentChildren } from 'preact';
import { Session } from '../api';
import { href } from '../router';

const PAGES: { id: string; label: string; adminOnly?: boolean }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'containers', label: 'Containers' },
  { id: 'services', label: 'Services' },
  { id: 'images', label: 'Images' },
  { id: 'builds', label: 'Builds' },
  { id: 'hosts', label: 'Hosts' },
  { id: 'admin', label: 'Admin', adminOnly: true },
];

export function Layout({ session, page, onSignOut, children }: { session: Session; page: string; onSignOut: () => void; children: ComponentChildren }) {
  const isAdmin = session.user.role === 'admin';
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href('overview')}>
          Muelle
        </a>
        <nav class="nav" aria-label="Console">
          {PAGES.filter((p) => !p.adminOnly || isAdmin).map((p) => (
            <a key={p.id} href={href(p.id)} class={page === p.id ? 'active' : ''} aria-current={page === p.id ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span>
            {session.user.username}
            <span class="muted">
              {' '}
              · {session.user.role}
              {session.teamName ? ` · ${session.teamName}` : ''}
            </span>
          </span>
          <button type="button" class="btn btn-small" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
