import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ndjson } from '../api';

const KEEP_LINES = 5000;

interface LogLine {
  stream: 'stdout' | 'stderr';
  data: string;
}

/** The container's log: the last lines, then followed live; search filters, download saves what is shown. */
export function LogView({ containerId, name }: { containerId: string; name: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState('loading');
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setStatus(follow ? 'following' : 'loading');
    ndjson(
      `/v1/containers/${encodeURIComponent(containerId)}/logs?tail=1000&timestamps=false${follow ? '&follow=true' : ''}`,
      (line: LogLine) => setLines((all) => [...all, ...splitLines(line)].slice(-KEEP_LINES)),
      { signal: abort.signal },
    ).then(
      () => setStatus(follow ? 'stream ended (container stopped)' : 'loaded'),
      (error: Error) => abort.signal.aborted || setStatus(`error: ${error.message}`),
    );
    return () => abort.abort();
  }, [containerId, follow]);
  const shown = useMemo(() => (search ? lines.filter((l) => l.data.toLowerCase().includes(search.toLowerCase())) : lines), [lines, search]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown.length, follow]);
  const download = () => {
    const url = URL.createObjectURL(
      new Blob(
        shown.map((l) => l.data + '\n'),
        { type: 'text/plain' },
      ),
    );
    const link = document.createElement('a');
    link.href = url;
    link.download = `${name}.log`;
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div class="logs">
      <div class="toolbar">
        <label class="inline">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow
        </label>
        <label class="inline grow">
          Search
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="text in the log" />
        </label>
        <button type="button" class="btn btn-small" onClick={download}>
          Download
        </button>
        <span class="muted" role="status">
          {shown.length} lines · {status}
        </span>
      </div>
      <pre class="log-box" ref={box} tabIndex={0} aria-label="Log output">
        {shown.length === 0 ? (
          <span class="muted">No output{search ? ' matches' : ' yet'}.</span>
        ) : (
          shown.map((l, i) => (
            <div key={i} class={l.stream === 'stderr' ? 'stderr' : undefined}>
              {l.data}
            </div>
          ))
        )}
      </pre>
    </div>
  );
}

function splitLines(line: LogLine): LogLine[] {
  return line.data
    .replace(/\n$/, '')
    .split('\n')
    .map((data) => ({ stream: line.stream, data }));
}
