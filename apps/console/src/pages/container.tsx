import { useState } from 'preact/hooks';
import { api, Session } from '../api';
import { LogView } from '../components/logs';
import { StatsView } from '../components/stats';
import { ExecTerminal } from '../components/terminal';
import { Loaded, StateBadge } from '../components/ui';
import { ago } from '../format';
import { useEvents, useResource, useThrottled } from '../hooks';
import { href } from '../router';
import type { Container } from '../types';
import { canChange, ContainerActions } from './containers';

const TABS = ['logs', 'stats', 'terminal', 'inspect'] as const;
type Tab = (typeof TABS)[number];

/** One container: its state and actions, and tabs for logs, stats, a terminal and the full record. */
export function ContainerPage({ session, reference }: { session: Session; reference: string }) {
  const container = useResource(() => api<Container>(`/v1/containers/${encodeURIComponent(reference)}`), [reference]);
  const [tab, setTab] = useState<Tab>('logs');
  const [shell, setShell] = useState('sh');
  const [command, setCommand] = useState(['sh']);
  const [terminalKey, setTerminalKey] = useState(0);
  const reload = useThrottled(container.reload, 300);
  useEvents((event) => event.type === 'container' && (event.id === container.data?.id || event.attributes.name === reference) && reload());
  const tabs = TABS.filter((t) => t !== 'terminal' || canChange(session));
  return (
    <>
      <p>
        <a href={href('containers')}>← Containers</a>
      </p>
      <Loaded resource={container} what="the container">
        {(c) => (
          <>
            <h1>
              {c.name} <StateBadge state={c.state} />
            </h1>
            <dl class="facts">
              <dt>Image</dt>
              <dd class="mono">{c.image}</dd>
              <dt>Host</dt>
              <dd>{c.hostId ?? '—'}</dd>
              <dt>Started</dt>
              <dd>{ago(c.startedAt)}</dd>
              <dt>Restarts</dt>
              <dd>{c.restartCount}</dd>
              {c.state === 'exited' && (
                <>
                  <dt>Exit code</dt>
                  <dd>{c.exitCode}</dd>
                </>
              )}
            </dl>
            {canChange(session) && (
              <div class="toolbar">
                <ContainerActions container={c} onDone={() => (c.state === 'removing' ? undefined : container.reload())} />
              </div>
            )}
            <div role="tablist" aria-label="Container views" class="tabs">
              {tabs.map((t) => (
                <button key={t} type="button" role="tab" id={`tab-${t}`} aria-selected={tab === t} aria-controls={`panel-${t}`} class={tab === t ? 'tab active' : 'tab'} onClick={() => setTab(t)}>
                  {t[0].toUpperCase() + t.slice(1)}
                </button>
              ))}
            </div>
            <section role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} class="panel">
              {tab === 'logs' && <LogView containerId={c.id} name={c.name} />}
              {tab === 'stats' && (c.state === 'running' ? <StatsView containerId={c.id} /> : <p class="state state-empty">Stats are shown while the container runs.</p>)}
              {tab === 'terminal' &&
                (c.state === 'running' ? (
                  <>
                    <form
                      class="toolbar"
                      onSubmit={(e) => {
                        e.preventDefault();
                        setCommand(shell.trim().split(/\s+/));
                        setTerminalKey((k) => k + 1);
                      }}
                    >
                      <label class="inline">
                        Command
                        <input value={shell} onInput={(e) => setShell(e.currentTarget.value)} />
                      </label>
                      <button type="submit" class="btn btn-small">
                        Open
                      </button>
                    </form>
                    <ExecTerminal key={terminalKey} containerId={c.id} command={command} />
                  </>
                ) : (
                  <p class="state state-empty">A terminal opens while the container runs.</p>
                ))}
              {tab === 'inspect' && <pre class="inspect">{JSON.stringify(c, null, 2)}</pre>}
            </section>
          </>
        )}
      </Loaded>
    </>
  );
}
