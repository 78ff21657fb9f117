import { useEffect, useState } from 'preact/hooks';
import { api, ndjson, query, Session } from '../api';
import { Badge, Loaded, Table, usePager } from '../components/ui';
import { ago, shortId } from '../format';
import { useResource } from '../hooks';
import { tarOf, withinFolder } from '../tar';
import type { BuildRecord, Page, Team } from '../types';

interface Step {
  index: number;
  total: number;
  instruction: string;
  cached: boolean;
  done: boolean;
  output: string;
}

/** One NDJSON line of `POST /v1/builds`: a BuildProgressEvent, then `{status: 'done', …result}`. */
interface BuildLine {
  type?: 'step' | 'cache-hit' | 'output' | 'step-done' | 'pulling' | 'pushing' | 'pushed' | 'message';
  status?: 'done';
  index: number;
  total: number;
  instruction: string;
  data: string;
  text: string;
  reference: string;
  digest: string;
  steps?: number;
  cachedSteps?: number;
  durationMs?: number;
}

const PAGE_SIZE = 20;

/**
 * Build from a folder or a tar with a Dockerfile path, tags, build args and a target; steps and
 * their output appear as the builder reports them. The history is the server's build records
 * (`GET /v1/builds`: the team's, or every team's for admins), newest first.
 */
export function BuildsPage({ session }: { session: Session }) {
  const [steps, setSteps] = useState<Step[]>([]);
  const [messages, setMessages] = useState<string[]>([]);
  const [status, setStatus] = useState<{ tone: string; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [started, setStarted] = useState(0);
  const readOnly = session.user.role === 'viewer';

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const tags = String(form.get('tags') ?? '')
      .split(/[\s,]+/)
      .filter(Boolean);
    setSteps([]);
    setMessages([]);
    setBusy(true);
    setStatus({ tone: 'info', text: 'Packing the context…' });
    try {
      const context = await contextOf(form);
      const params = new URLSearchParams();
      for (const tag of tags) params.append('t', tag);
      params.set('dockerfile', String(form.get('dockerfile') || 'Dockerfile'));
      if (form.get('target')) params.set('target', String(form.get('target')));
      if (form.get('nocache')) params.set('nocache', 'true');
      for (const arg of String(form.get('buildargs') ?? '')
        .split('\n')
        .map((a) => a.trim())
        .filter(Boolean))
        params.append('buildarg', arg);
      setStatus({ tone: 'info', text: `Building (${Math.ceil(context.size / 1024)} KiB context)…` });
      let done: BuildLine | null = null as BuildLine | null;
      await ndjson(
        `/v1/builds?${params}`,
        (line: BuildLine) => {
          if (line.status === 'done') done = line;
          else apply(line);
        },
        { method: 'POST', body: context, headers: { 'Content-Type': 'application/x-tar' } },
      );
      const summary = done ? `${done.steps ?? '?'} steps, ${done.cachedSteps ?? 0} cached, ${((done.durationMs ?? 0) / 1000).toFixed(1)} s` : 'finished';
      setStatus({ tone: 'ok', text: `Built: ${summary}` });
    } catch (error) {
      setStatus({ tone: 'bad', text: `Build failed: ${(error as Error).message}` });
    } finally {
      setBusy(false);
      setStarted((n) => n + 1);
    }
  };

  const apply = (line: BuildLine) => {
    if (line.type === 'step') setSteps((all) => [...all, { index: line.index, total: line.total, instruction: line.instruction, cached: false, done: false, output: '' }]);
    else if (line.type === 'cache-hit') setSteps((all) => all.map((s) => (s.index === line.index ? { ...s, cached: true } : s)));
    else if (line.type === 'output') setSteps((all) => all.map((s) => (s.index === line.index ? { ...s, output: s.output + line.data } : s)));
    else if (line.type === 'step-done') setSteps((all) => all.map((s) => (s.index === line.index ? { ...s, done: true } : s)));
    else if (line.type === 'message') setMessages((all) => [...all, line.text]);
    else if (line.type === 'pushed') setMessages((all) => [...all, `Pushed ${line.reference}@${line.digest}`]);
  };

  return (
    <>
      <h1>Builds</h1>
      {readOnly ? (
        <p class="state state-info">Viewers cannot build: builds push images.</p>
      ) : (
        <form class="card form-grid" onSubmit={submit} aria-label="New build">
          <fieldset>
            <legend>Context</legend>
            <label>
              A folder
              <input type="file" name="folder" {...{ webkitdirectory: '', directory: '' }} multiple />
            </label>
            <label>
              or a tar archive
              <input type="file" name="tar" accept=".tar,application/x-tar" />
            </label>
          </fieldset>
          <label>
            Dockerfile path
            <input name="dockerfile" value="Dockerfile" required />
          </label>
          <label>
            Tags
            <input name="tags" placeholder={session.teamName ? `${session.teamName}/app:1` : 'team/app:1'} />
          </label>
          <label>
            Target stage
            <input name="target" placeholder="(last stage)" />
          </label>
          <label>
            Build args (KEY=value, one a line)
            <textarea name="buildargs" rows={3} />
          </label>
          <label class="inline">
            <input type="checkbox" name="nocache" /> No cache
          </label>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Building…' : 'Build'}
          </button>
        </form>
      )}
      {status && (
        <p class={`state state-${status.tone === 'bad' ? 'error' : 'info'}`} role="status" data-build-status={status.tone}>
          {status.text}
        </p>
      )}
      {steps.length > 0 && (
        <ol class="steps" aria-label="Build steps">
          {steps.map((step) => (
            <li key={step.index} class="step">
              <div class="step-head">
                <span class="mono">
                  Step {step.index}/{step.total}: {step.instruction}
                </span>{' '}
                {step.cached ? <Badge tone="info">cached</Badge> : step.done ? <Badge tone="ok">done</Badge> : <Badge tone="warn">running</Badge>}
              </div>
              {step.output && <pre class="step-output">{step.output}</pre>}
            </li>
          ))}
        </ol>
      )}
      {messages.length > 0 && <pre class="step-output">{messages.join('\n')}</pre>}
      <BuildHistory session={session} changed={started} />
    </>
  );
}

async function contextOf(form: FormData): Promise<Blob> {
  const tar = form.get('tar');
  if (tar instanceof File && tar.size > 0) return tar;
  const files = form.getAll('folder').filter((f): f is File => f instanceof File && f.size >= 0 && !!f.name);
  if (!files.length) throw new Error('choose a folder or a tar archive as the build context');
  const packed = await Promise.all(files.map(async (file) => ({ path: withinFolder(file.webkitRelativePath || file.name) || file.name, bytes: new Uint8Array(await file.arrayBuffer()) })));
  return new Blob([tarOf(packed)], { type: 'application/x-tar' });
}

const STATE_TONES: Record<BuildRecord['state'], string> = { running: 'warn', succeeded: 'ok', failed: 'bad', cancelled: 'muted' };

/** The server's build records, newest first, in pages; refreshed while one runs and after a build from this page. */
function BuildHistory({ session, changed }: { session: Session; changed: number }) {
  const pager = usePager();
  const isAdmin = session.user.role === 'admin';
  const builds = useResource(() => api<Page<BuildRecord>>(`/v1/builds${query({ limit: PAGE_SIZE, cursor: pager.cursor })}`), [pager.cursor, changed]);
  const teams = useResource(() => (isAdmin ? api<{ items: Team[] }>('/v1/teams') : Promise.resolve({ items: [] as Team[] })), [isAdmin]);
  const teamName = (id: string | null) => (id ? (teams.data?.items.find((t) => t.id === id)?.name ?? (id === session.teamId ? session.teamName : shortId(id))) : '—');
  const running = builds.data?.items.some((b) => b.state === 'running') ?? false;
  useEffect(() => {
    if (!running) return undefined;
    const timer = window.setInterval(builds.reload, 2000);
    return () => window.clearInterval(timer);
  }, [running, builds.reload]);
  return (
    <section class="card" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <Loaded resource={builds} what="builds" empty={(p) => p.items.length === 0 && pager.page === 1}>
        {(page) => (
          <>
            <Table caption="Builds, newest first" columns={['State', 'Tags', 'By', isAdmin && 'Team', 'Started', 'Took', 'Result']}>
              {page.items.map((build) => (
                <tr key={build.id} data-build={build.id} data-build-state={build.state}>
                  <td>
                    <Badge tone={STATE_TONES[build.state] ?? 'muted'}>{build.state}</Badge>
                  </td>
                  <td class="mono">{build.tags.join(', ') || '(no tag)'}</td>
                  <td>{build.requestedBy}</td>
                  {isAdmin && <td>{teamName(build.teamId)}</td>}
                  <td>
                    <time dateTime={build.startedAt} title={new Date(build.startedAt).toLocaleString()}>
                      {ago(build.startedAt)}
                    </time>
                  </td>
                  <td>{build.finishedAt ? `${((Date.parse(build.finishedAt) - Date.parse(build.startedAt)) / 1000).toFixed(1)} s` : '—'}</td>
                  <td class="build-result">
                    {build.result && (
                      <>
                        <span>
                          {build.result.steps} steps, {build.result.cachedSteps} cached
                        </span>
                        <div class="muted mono" title={build.result.digest}>
                          {shortId(build.result.digest)}
                        </div>
                      </>
                    )}
                    {build.error && (
                      <span class="build-error">
                        {build.error.code}: {build.error.message}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
            {pager.controls(page.nextCursor)}
          </>
        )}
      </Loaded>
    </section>
  );
}
