import { useEffect, useState } from 'preact/hooks';
import { ndjson } from '../api';
import { bytes } from '../format';

const POINTS = 60;

interface Sample {
  cpuPercent: number | null;
  memoryUsageBytes: number;
  memoryInactiveFileBytes: number;
  memoryLimitBytes: number;
  pidsCurrent: number;
}

/** Live CPU and memory, one sample a second (`/stats?stream=true`), as two small charts. */
export function StatsView({ containerId }: { containerId: string }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [status, setStatus] = useState('waiting for the first sample');
  useEffect(() => {
    const abort = new AbortController();
    ndjson(
      `/v1/containers/${encodeURIComponent(containerId)}/stats?stream=true`,
      (sample: Sample) => {
        setStatus('live');
        setSamples((all) => [...all, sample].slice(-POINTS));
      },
      { signal: abort.signal },
    ).then(
      () => setStatus('ended'),
      (error: Error) => abort.signal.aborted || setStatus(`error: ${error.message}`),
    );
    return () => abort.abort();
  }, [containerId]);
  const cpu = samples.map((s) => s.cpuPercent ?? 0);
  const memory = samples.map((s) => memoryOf(s));
  const last = samples[samples.length - 1];
  return (
    <div class="stats">
      <p class="muted" role="status">
        {status}
      </p>
      <div class="charts">
        <Chart label="CPU %" values={cpu} max={Math.max(100, ...cpu)} text={last ? `${(last.cpuPercent ?? 0).toFixed(1)} %` : '—'} />
        <Chart label="Memory" values={memory} max={Math.max(1, ...memory)} text={last ? `${bytes(memoryOf(last))} of ${bytes(last.memoryLimitBytes)} · ${last.pidsCurrent} pids` : '—'} />
      </div>
    </div>
  );
}

/** docker's "used" memory: usage less inactive file cache. */
const memoryOf = (s: Sample) => Math.max(0, s.memoryUsageBytes - s.memoryInactiveFileBytes);

function Chart({ label, values, max, text }: { label: string; values: number[]; max: number; text: string }) {
  const width = 300;
  const height = 80;
  const step = width / (POINTS - 1);
  const points = values.map((v, i) => `${(i + POINTS - values.length) * step},${height - (v / max) * (height - 4) - 2}`).join(' ');
  return (
    <figure class="chart">
      <figcaption>
        {label}: <strong>{text}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label} over the last minute, now ${text}`} preserveAspectRatio="none">
        <polyline points={points} fill="none" stroke="currentColor" stroke-width="2" />
      </svg>
    </figure>
  );
}
