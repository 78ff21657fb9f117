import { useState } from 'preact/hooks';
import { api, ApiError, PlatformEvent, query, Session } from '../api';
import { ActionButton, Badge, ErrorNote, Loaded, Meter, StateBadge, Table } from '../components/ui';
import { ago, shortId } from '../format';
import { useEvents, useResource, useThrottled } from '../hooks';
import { href } from '../router';
import { sseData } from '../sse';
import type { Service, Task, Team, UpdateState } from '../types';

const PAGE_SIZE = 25;
/** The labels the reconciler puts on a task (see the contracts' SERVICE_*_LABEL). */
const VERSION_LABEL = 'muelle.service.version';

const UPDATE_TONES: Record<UpdateState, string> = { completed: 'ok', updating: 'info', paused: 'warn', rollback_started: 'warn', rollback_completed: 'muted' };
const HEALTH_TONES: Record<string, string> = { healthy: 'ok', starting: 'info', unhealthy: 'bad' };

/** A service's tasks are containers of its team: admins and the team's members change them, viewers and others do not. */
export const canManage = (session: Session, service: Service) => session.user.role === 'admin' || (session.user.role === 'member' && service.teamId !== null && service.teamId === session.teamId);

const servicePath = (service: Service | string) => `/v1/services/${encodeURIComponent(typeof service === 'string' ? service : service.id)}`;
const tasksOf = (service: Service) => api<{ items: Task[] }>(`${servicePath(service)}/tasks`).then((page) => page.items);

/** What the tasks say about a service: running against desired, health, and how far an update is. */
function summary(service: Service, tasks: Task[]) {
  const running = tasks.filter((t) => t.state === 'running');
  const current = running.filter((t) => t.labels[VERSION_LABEL] === String(service.version));
  const health = { healthy: 0, starting: 0, unhealthy: 0 };
  for (const task of running) if (task.health) health[task.health]++;
  return { running: running.length, current: current.length, health, checked: health.healthy + health.starting + health.unhealthy };
}

function Replicas({ service, tasks }: { service: Service; tasks: Task[] }) {
  const s = summary(service, tasks);
  return <Meter label="Replicas" used={s.running} total={Math.max(service.spec.replicas, s.running)} text={`${s.running} / ${service.spec.replicas} running`} />;
}

function Health({ service, tasks }: { service: Service; tasks: Task[] }) {
  const s = summary(service, tasks);
  if (s.running === 0) return <span class="muted">no task running</span>;
  if (s.checked === 0) return <span class="muted">no health check</span>;
  return (
    <>
      {(['healthy', 'starting', 'unhealthy'] as const)
        .filter((h) => s.health[h] > 0)
        .map((h) => (
          <Badge key={h} tone={HEALTH_TONES[h]}>
            {s.health[h]} {h}
          </Badge>
        ))}
    </>
  );
}

function Update({ service, tasks }: { service: Service; tasks: Task[] | undefined }) {
  const rolling = service.updateState === 'updating' || service.updateState === 'rollback_started';
  const s = tasks && summary(service, tasks);
  return (
    <>
      <Badge tone={UPDATE_TONES[service.updateState] ?? 'muted'}>{service.updateState.replace('_', ' ')}</Badge> <span class="muted">v{service.version}</span>
      {rolling && s && (
        <div class="update-message">
          {s.current} of {service.spec.replicas} tasks at v{service.version}
        </div>
      )}
      {service.updateMessage && <div class="update-message">{service.updateMessage}</div>}
    </>
  );
}

/** Every service the caller may see, with replicas, task health and update progress; updates live from container and service events. */
export function ServicesPage({ session }: { session: Session }) {
  const [pageIndex, setPageIndex] = useState(0);
  const isAdmin = session.user.role === 'admin';
  const services = useResource(() => api<{ items: Service[] }>('/v1/services').then((r) => r.items.sort((a, b) => a.name.localeCompare(b.name))), []);
  const shown = (services.data ?? []).slice(pageIndex * PAGE_SIZE, (pageIndex + 1) * PAGE_SIZE);
  const shownKey = shown.map((s) => `${s.id}@${s.version}`).join(',');
  const tasks = useResource(async () => new Map(await Promise.all(shown.map(async (s) => [s.id, await tasksOf(s)] as const))), [shownKey]);
  const teams = useResource(() => (isAdmin ? api<{ items: Team[] }>('/v1/teams') : Promise.resolve({ items: [] as Team[] })), [isAdmin]);
  const teamName = (id: string | null) => (id ? (teams.data?.items.find((t) => t.id === id)?.name ?? (id === session.teamId ? session.teamName : shortId(id))) : '—');
  const reload = useThrottled(() => {
    services.reload();
    tasks.reload();
  }, 500);
  useEvents((event) => (event.type === 'container' || event.type === 'service') && reload());
  const pages = Math.max(1, Math.ceil((services.data?.length ?? 0) / PAGE_SIZE));
  return (
    <>
      <h1>Services</h1>
      <Loaded resource={services} what="services" empty={(items) => items.length === 0}>
        {() => (
          <>
            {tasks.error && <ErrorNote error={tasks.error} retry={tasks.reload} />}
            <Table caption="Services" columns={['Service', 'Image', 'Replicas', 'Health', 'Update', isAdmin && 'Team', 'Changed']}>
              {shown.map((service) => {
                const mine = tasks.data?.get(service.id);
                return (
                  <tr key={service.id} data-service={service.name}>
                    <td>
                      <a href={href('services', service.id)}>{service.name}</a>
                      <div class="muted mono">{shortId(service.id)}</div>
                    </td>
                    <td class="mono">{service.spec.image}</td>
                    <td>{mine ? <Replicas service={service} tasks={mine} /> : <span class="muted">{service.spec.replicas} desired</span>}</td>
                    <td>{mine ? <Health service={service} tasks={mine} /> : '…'}</td>
                    <td>
                      <Update service={service} tasks={mine} />
                    </td>
                    {isAdmin && <td>{teamName(service.teamId)}</td>}
                    <td>{ago(service.updatedAt)}</td>
                  </tr>
                );
              })}
            </Table>
            <nav class="pager" aria-label="Pages">
              <button type="button" class="btn btn-small" disabled={pageIndex === 0} onClick={() => setPageIndex(pageIndex - 1)}>
                Previous
              </button>
              <span>
                Page {pageIndex + 1} of {pages}
              </span>
              <button type="button" class="btn btn-small" disabled={pageIndex + 1 >= pages} onClick={() => setPageIndex(pageIndex + 1)}>
                Next
              </button>
            </nav>
          </>
        )}
      </Loaded>
    </>
  );
}

/** One service: its spec and update state, its tasks (host, state, health); scale, roll back and remove where permitted. */
export function ServicePage({ session, reference }: { session: Session; reference: string }) {
  const service = useResource(() => api<Service>(servicePath(reference)), [reference]);
  const tasks = useResource(() => api<{ items: Task[] }>(`${servicePath(reference)}/tasks`).then((page) => page.items), [reference]);
  const reloadAll = () => {
    service.reload();
    tasks.reload();
  };
  const reload = useThrottled(reloadAll, 400);
  useEvents((event) => (event.type === 'container' || (event.type === 'service' && event.id === service.data?.id)) && reload());
  return (
    <>
      <p>
        <a href={href('services')}>← Services</a>
      </p>
      {!service.data && <h1>Service</h1>}
      <Loaded resource={service} what="the service">
        {(s) => (
          <>
            <div class="service-head">
              <h1>
                {s.name} <Badge tone={UPDATE_TONES[s.updateState] ?? 'muted'}>{s.updateState.replace('_', ' ')}</Badge>
              </h1>
              {canManage(session, s) && (
                <div class="toolbar">
                  <ScaleForm service={s} onDone={reloadAll} />
                  {s.previousSpec && (
                    <ActionButton
                      label="Roll back"
                      name={`Roll back ${s.name}`}
                      confirm={`Roll ${s.name} back to ${s.previousSpec.image}?`}
                      run={() => api(`${servicePath(s)}/rollback`, { method: 'POST' })}
                      onDone={reloadAll}
                    />
                  )}
                  <ActionButton
                    label="Remove"
                    name={`Remove ${s.name}`}
                    danger
                    confirm={`Remove ${s.name} and its tasks?`}
                    run={() => api(servicePath(s), { method: 'DELETE' })}
                    onDone={() => (window.location.hash = href('services'))}
                  />
                </div>
              )}
            </div>
            <dl class="facts">
              <dt>Image</dt>
              <dd class="mono">{s.spec.image}</dd>
              <dt>Replicas</dt>
              <dd data-replicas>{tasks.data ? `${summary(s, tasks.data).running} / ${s.spec.replicas} running` : `${s.spec.replicas} desired`}</dd>
              <dt>Update</dt>
              <dd>
                <Update service={s} tasks={tasks.data} />
              </dd>
              {s.previousSpec && (
                <>
                  <dt>Previous image</dt>
                  <dd class="mono">{s.previousSpec.image}</dd>
                </>
              )}
              <dt>Update settings</dt>
              <dd>
                {s.spec.updateConfig.parallelism || 'all'} at a time, {s.spec.updateConfig.order}, on failure {s.spec.updateConfig.failureAction}
              </dd>
              <dt>Restart policy</dt>
              <dd>
                {s.spec.restartPolicy.condition}, after {s.spec.restartPolicy.delayMs / 1000} s
                {s.spec.restartPolicy.maxAttempts ? `, at most ${s.spec.restartPolicy.maxAttempts} within ${s.spec.restartPolicy.windowMs ? `${s.spec.restartPolicy.windowMs / 1000} s` : 'this version'}` : ''}
              </dd>
              <dt>Changed</dt>
              <dd>{ago(s.updatedAt)}</dd>
            </dl>
            <h2>Tasks</h2>
            <Loaded resource={tasks} what="tasks" empty={(items) => items.length === 0}>
              {(items) => (
                <Table caption={`Tasks of ${s.name}`} columns={['Task', 'State', 'Health', 'Host', 'Version', 'Started']}>
                  {items.map((task) => (
                    <tr key={task.id} data-task={task.name} data-task-state={task.state}>
                      <td>
                        <a href={href('containers', task.id)}>{task.name}</a>
                      </td>
                      <td>
                        <StateBadge state={task.state} />
                        {task.state === 'exited' && <span class="muted"> ({task.exitCode})</span>}
                        {leftWhy(s, task.id) && <div class="update-message">{leftWhy(s, task.id)}</div>}
                      </td>
                      <td>{task.health ? <Badge tone={HEALTH_TONES[task.health] ?? 'muted'}>{task.health}</Badge> : <span class="muted">—</span>}</td>
                      <td>{task.hostId ?? '—'}</td>
                      <td>v{task.labels[VERSION_LABEL] ?? '?'}</td>
                      <td>{ago(task.startedAt)}</td>
                    </tr>
                  ))}
                </Table>
              )}
            </Loaded>
            <UpdateEvents service={s} />
          </>
        )}
      </Loaded>
    </>
  );
}

/** Why the restart policy left this task (max_attempts reached), if it did. */
const leftWhy = (service: Service, task: string) => service.restartHistory?.find((e) => e.task === task && !e.restarted)?.reason;

/** Docker's service `update` event: where a change stood before and after, and why. */
type UpdateEvent = PlatformEvent & { attributes: { version?: number; 'updatestate.old'?: string; 'updatestate.new'?: string; message?: string } };

/** The service's update events: its history since it was made (the events API up to now), then live ones as they come. */
function UpdateEvents({ service }: { service: Service }) {
  const history = useResource(async () => {
    const response = await fetch(`/v1/events${query({ type: 'service', since: service.createdAt, until: new Date().toISOString() })}`, { credentials: 'include' });
    if (!response.ok) throw new ApiError(response.status, 'EVENTS', `events: ${response.status} ${response.statusText}`);
    return sseData<UpdateEvent>(await response.text()).filter((e) => e.id === service.id);
  }, [service.id]);
  const [live, setLive] = useState<UpdateEvent[]>([]);
  useEvents((event) => event.type === 'service' && event.id === service.id && setLive((seen) => [...seen, event as UpdateEvent]));
  return (
    <>
      <h2>Update events</h2>
      <Loaded resource={history} what="update events">
        {(past) => {
          const all = [...past, ...live.filter((e) => !past.some((p) => p.at === e.at && p.action === e.action))].reverse();
          if (!all.length) return <p class="muted">No update yet.</p>;
          return (
            <Table caption={`Update events of ${service.name}`} columns={['When', 'Version', 'State', 'Why']}>
              {all.map((e) => (
                <tr key={`${e.at}-${e.attributes['updatestate.new']}`} data-update-event={e.attributes['updatestate.new']}>
                  <td>{ago(e.at)}</td>
                  <td>v{e.attributes.version ?? '?'}</td>
                  <td>
                    {e.attributes['updatestate.old'] ?? '—'} → <Badge tone={UPDATE_TONES[e.attributes['updatestate.new'] as UpdateState] ?? 'muted'}>{e.attributes['updatestate.new'] ?? e.action}</Badge>
                  </td>
                  <td>{e.attributes.message || <span class="muted">—</span>}</td>
                </tr>
              ))}
            </Table>
          );
        }}
      </Loaded>
    </>
  );
}

/** Replicas in a number field; the server answers the new record (its refusal is shown here). */
function ScaleForm({ service, onDone }: { service: Service; onDone: () => void }) {
  const [replicas, setReplicas] = useState(String(service.spec.replicas));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api(`${servicePath(service)}/scale`, { method: 'POST', body: { replicas: Number(replicas) } });
      onDone();
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="scale" onSubmit={submit} aria-label={`Scale ${service.name}`}>
      <label>
        Replicas
        <input name="replicas" type="number" min={0} max={1000} required value={replicas} onInput={(e) => setReplicas(e.currentTarget.value)} />
      </label>
      <button type="submit" class="btn" disabled={busy} aria-busy={busy}>
        {busy ? 'Scaling…' : 'Scale'}
      </button>
      {error && (
        <span class="action-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
