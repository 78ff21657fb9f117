import { formatBytes } from '@muelle/contracts/byte-units';

/** Left-aligned columns separated by three spaces, like docker's tables. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** docker's units: 1000-based "MB" for sizes. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)}${units[unit]}`;
}

/** Binary units for memory ("1.5GiB"), like docker stats. */
export const humanBinary = (bytes: number): string => formatBytes(bytes, '');

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 2) return 'Less than a second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'About a minute' : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return hours === 1 ? 'About an hour' : `${hours} hours`;
  return `${Math.round(hours / 24)} days`;
}

/** docker ps STATUS: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created". */
export function containerStatus(
  c: {
    state: string;
    startedAt: string | null;
    finishedAt: string | null;
    exitCode: number | null;
    health?: string | null;
  },
  now = Date.now(),
): string {
  switch (c.state) {
    case 'running':
      // docker's spelling: "Up 5 seconds (healthy)", "(health: starting)".
      return `Up ${ago(c.startedAt, now)}${!c.health ? '' : c.health === 'starting' ? ' (health: starting)' : ` (${c.health})`}`;
    case 'exited':
      return `Exited (${c.exitCode ?? 0}) ${ago(c.finishedAt, now)} ago`;
    case 'created':
      return 'Created';
    case 'restarting':
      return `Restarting (${c.exitCode ?? 0}) ${ago(c.finishedAt, now)} ago`;
    case 'lost':
      return `Lost (host down) ${ago(c.finishedAt, now)} ago`;
    default:
      return c.state[0].toUpperCase() + c.state.slice(1);
  }
}

/**
 * Why a service task failed, as Swarm's `service ps` ERROR column words it: empty while it runs
 * healthy or ended well.
 */
export function taskError(t: { state: string; exitCode: number | null; health?: string | null }): string {
  if (t.health === 'unhealthy') return 'task: container unhealthy';
  if (t.state === 'lost') return 'task: host down';
  if ((t.state === 'exited' || t.state === 'dead') && t.exitCode !== 0) return `task: non-zero exit (${t.exitCode ?? 'unknown'})`;
  return '';
}

export function ports(
  list: Array<{
    hostIp: string;
    hostPort: number;
    containerPort: number;
    protocol: string;
  }>,
  address?: string | null,
): string {
  return list.map((p) => `${p.hostIp === '0.0.0.0' && address ? address : p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', ');
}

export const shortId = (id: string) => id.slice(0, 12);
