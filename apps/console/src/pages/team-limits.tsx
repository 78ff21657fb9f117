import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ActionButton, Loaded } from '../components/ui';
import { bytes } from '../format';
import { useResource } from '../hooks';
import type { Team } from '../types';

interface QuotaRecord {
  quota: Record<string, number | null>;
  usage: { containers: number; memoryBytes: number; cpus: number; registryBytes: number };
}

/** A team's quota (with what it uses now) and host-option policy, edited as the JSON the api takes. */
export function TeamLimits({ team }: { team: Team }) {
  const base = `/v1/teams/${encodeURIComponent(team.name)}`;
  const quota = useResource(() => api<QuotaRecord>(`${base}/quota`), [team.name]);
  const policy = useResource(() => api<{ policy: unknown }>(`${base}/policy`), [team.name]);
  return (
    <div class="limits">
      <Loaded resource={quota} what="the quota">
        {(record) => (
          <div>
            <h3>Quota</h3>
            <p class="muted">
              Uses {record.usage.containers} containers, {bytes(record.usage.memoryBytes)} memory, {record.usage.cpus} CPUs, {bytes(record.usage.registryBytes)} of registry storage. null = unlimited.
            </p>
            <JsonEditor label={`Quota of ${team.name}`} value={record.quota} save={(body) => api(`${base}/quota`, { method: 'PUT', body })} onDone={quota.reload} />
          </div>
        )}
      </Loaded>
      <Loaded resource={policy} what="the policy">
        {(record) => (
          <div>
            <h3>Host-option policy</h3>
            <JsonEditor label={`Policy of ${team.name}`} value={record.policy} save={(body) => api(`${base}/policy`, { method: 'PUT', body })} onDone={policy.reload} />
          </div>
        )}
      </Loaded>
    </div>
  );
}

function JsonEditor({ label, value, save, onDone }: { label: string; value: unknown; save: (body: unknown) => Promise<unknown>; onDone: () => void }) {
  const [text, setText] = useState(JSON.stringify(value, null, 2));
  useEffect(() => setText(JSON.stringify(value, null, 2)), [JSON.stringify(value)]);
  return (
    <div class="json-editor">
      <label>
        {label} (JSON)
        <textarea rows={8} class="mono" value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <ActionButton
        label="Save"
        run={async () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            throw new Error('not valid JSON');
          }
          await save(body);
        }}
        onDone={onDone}
      />
    </div>
  );
}
