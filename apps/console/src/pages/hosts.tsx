import { api, Session } from '../api';
import { ActionButton, Badge, Loaded, Meter, StateBadge, Table, usePager } from '../components/ui';
import { ago, bytes } from '../format';
import { useEvents, useResource, useThrottled } from '../hooks';
import type { Host, Page } from '../types';

/** Hosts with capacity and use; admins cordon, uncordon and drain them. */
export function HostsPage({ session }: { session: Session }) {
  const pager = usePager();
  const hosts = useResource(() => api<Page<Host>>(`/v1/hosts?limit=50${pager.cursor ? `&cursor=${encodeURIComponent(pager.cursor)}` : ''}`), [pager.cursor]);
  const reload = useThrottled(hosts.reload, 400);
  useEvents((event) => (event.type === 'host' || event.type === 'container') && reload());
  const isAdmin = session.user.role === 'admin';
  return (
    <>
      <h1>Hosts</h1>
      <Loaded resource={hosts} what="hosts" empty={(p) => p.items.length === 0 && pager.page === 1}>
        {(page) => (
          <>
            <Table caption="Hosts" columns={['Host', 'State', 'CPU', 'Memory', 'Containers', 'Labels', 'Heartbeat', isAdmin && 'Actions']}>
              {page.items.map((host) => (
                <tr key={host.id} data-host={host.id}>
                  <td>
                    <strong>{host.id}</strong>
                    <div class="muted mono">{host.address}</div>
                  </td>
                  <td>
                    <StateBadge state={host.state} /> {host.cordoned && <Badge tone="warn">cordoned</Badge>}
                  </td>
                  <td>
                    <Meter label="CPU" used={host.usage.reservedCpus} total={host.capacity.cpus} text={`${host.usage.reservedCpus} / ${host.capacity.cpus}`} />
                  </td>
                  <td>
                    <Meter
                      label="Memory"
                      used={host.usage.reservedMemoryBytes}
                      total={host.capacity.memoryBytes}
                      text={`${bytes(host.usage.reservedMemoryBytes)} / ${bytes(host.capacity.memoryBytes)}`}
                    />
                  </td>
                  <td>{host.usage.containers}</td>
                  <td class="mono">
                    {Object.entries(host.labels)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(', ') || '—'}
                  </td>
                  <td>{ago(host.lastHeartbeatAt)}</td>
                  {isAdmin && (
                    <td class="actions">
                      {host.cordoned ? (
                        <ActionButton label="Uncordon" name={`Uncordon ${host.id}`} run={() => api(`/v1/hosts/${encodeURIComponent(host.id)}/uncordon`, { method: 'POST' })} onDone={hosts.reload} />
                      ) : (
                        <ActionButton label="Cordon" name={`Cordon ${host.id}`} run={() => api(`/v1/hosts/${encodeURIComponent(host.id)}/cordon`, { method: 'POST' })} onDone={hosts.reload} />
                      )}
                      <ActionButton
                        label="Drain"
                        name={`Drain ${host.id}`}
                        danger
                        confirm={`Drain ${host.id}? Its containers with a restart policy move to other hosts.`}
                        run={() => api(`/v1/hosts/${encodeURIComponent(host.id)}/drain`, { method: 'POST' })}
                        onDone={hosts.reload}
                      />
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
