/**
 * The helper's status lines (native/muelle-isolate.c):
 *   pid <host pid> | started | error <stage> <errno> <message> | exit <code> <signal>
 */
export type StatusEvent =
  | { type: 'pid'; pid: number }
  | { type: 'started' }
  | { type: 'error'; stage: string; errno: number; message: string }
  | { type: 'exit'; exitCode: number; signal: number }
  | { type: 'unknown'; line: string };

export function parseStatusLine(line: string): StatusEvent {
  let m = /^pid (\d+)$/.exec(line);
  if (m) return { type: 'pid', pid: Number(m[1]) };
  if (line === 'started') return { type: 'started' };
  m = /^error (\S+) (\d+) ?(.*)$/.exec(line);
  if (m) return { type: 'error', stage: m[1], errno: Number(m[2]), message: m[3] };
  m = /^exit (\d+) (\d+)$/.exec(line);
  if (m) return { type: 'exit', exitCode: Number(m[1]), signal: Number(m[2]) };
  return { type: 'unknown', line };
}

/** Splits a byte stream into status events; partial lines wait for the next chunk. */
export class StatusLineReader {
  private pending = '';

  push(chunk: Buffer | string): StatusEvent[] {
    this.pending += chunk.toString();
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    return lines.filter((l) => l.length > 0).map(parseStatusLine);
  }

  /** A trailing line without newline, at end of stream. */
  end(): StatusEvent[] {
    const rest = this.pending;
    this.pending = '';
    return rest ? [parseStatusLine(rest)] : [];
  }
}
