import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import type { Resource } from '../hooks';

export function Loading({ what }: { what: string }) {
  return (
    <p class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function ErrorNote({ error, retry }: { error: Error; retry?: () => void }) {
  const code = error instanceof ApiError ? `${error.status} ${error.code}: ` : '';
  return (
    <div class="state state-error" role="alert">
      <strong>Could not load.</strong> {code}
      {error.message}
      {retry && (
        <button type="button" class="btn btn-small" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state state-empty">{children}</p>;
}

/** Loading / error / empty / content for one loaded resource. */
export function Loaded<T>({ resource, what, empty, children }: { resource: Resource<T>; what: string; empty?: (data: T) => boolean; children: (data: T) => ComponentChildren }) {
  if (resource.data === undefined) {
    if (resource.error) return <ErrorNote error={resource.error} retry={resource.reload} />;
    return <Loading what={what} />;
  }
  return (
    <>
      {resource.error && <ErrorNote error={resource.error} retry={resource.reload} />}
      {empty?.(resource.data) ? <Empty>No {what} yet.</Empty> : children(resource.data)}
    </>
  );
}

export function Badge({ tone, children }: { tone: string; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

const STATE_TONES: Record<string, string> = {
  running: 'ok',
  ready: 'ok',
  created: 'info',
  restarting: 'warn',
  paused: 'warn',
  exited: 'muted',
  down: 'bad',
  lost: 'bad',
  dead: 'bad',
  removing: 'muted',
};
export const StateBadge = ({ state }: { state: string }) => <Badge tone={STATE_TONES[state] ?? 'muted'}>{state}</Badge>;

/**
 * A button that runs an API action, shows it is busy and reports the server's refusal next to
 * itself (so a refused action says why, in the server's words).
 */
export function ActionButton({
  label,
  run,
  danger,
  confirm,
  onDone,
  small = true,
  name,
}: {
  label: string;
  run: () => Promise<unknown>;
  danger?: boolean;
  confirm?: string;
  onDone?: () => void;
  small?: boolean;
  name?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const click = async () => {
    if (confirm && !window.confirm(confirm)) return;
    setBusy(true);
    setError(null);
    try {
      await run();
      onDone?.();
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" class={`btn${small ? ' btn-small' : ''}${danger ? ' btn-danger' : ''}`} disabled={busy} aria-busy={busy} onClick={click} aria-label={name}>
        {busy ? `${label}…` : label}
      </button>
      {error && (
        <span class="action-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** Cursor pagination: the api answers `nextCursor`; earlier pages are remembered here. */
export function usePager() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  return {
    cursor,
    page: cursors.length,
    reset: () => setCursors([undefined]),
    controls: (next: string | null | undefined) => (
      <nav class="pager" aria-label="Pages">
        <button type="button" class="btn btn-small" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" class="btn btn-small" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Next
        </button>
      </nav>
    ),
  };
}

export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 1500);
    } catch {
      // No clipboard permission (plain http on another host): the text stays selectable.
      setCopied(false);
    }
  };
  return (
    <div class="copy">
      {/* Focusable: a long command scrolls sideways, and keyboard users must reach it too. */}
      <code aria-label={label} tabIndex={0}>
        {value}
      </code>
      <button type="button" class="btn btn-small" onClick={copy} aria-label={`Copy ${label}`}>
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

export function Meter({ label, used, total, text }: { label: string; used: number; total: number; text: string }) {
  const value = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return (
    <div class="meter">
      <div class="meter-label">
        <span>{label}</span>
        <span>{text}</span>
      </div>
      <progress max={100} value={value} aria-label={`${label}: ${text}`} />
    </div>
  );
}

/** A data table with a caption for screen readers; `false` columns are left out (not offered to this role). */
export function Table({ caption, columns, children }: { caption: string; columns: (string | false)[]; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class="table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.filter(Boolean).map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A labelled select whose first option (`none`) is the empty value. */
export function Choice({ label, value, none, options, onChange }: { label: string; value: string; none: string; options: { value: string; label: string }[]; onChange: (value: string) => void }) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{none}</option>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </label>
  );
}
