import { readFile } from 'node:fs/promises';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a live pid from a reused one. */
export async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return afterComm[19] ?? null;
  } catch {
    // The process is gone (or never was): no start time to compare.
    return null;
  }
}

export async function isSameProcess(pid: number | null, startTime: string | null): Promise<boolean> {
  if (!pid || !startTime) return false;
  const now = await processStartTime(pid);
  if (now !== startTime) return false;
  // A zombie is dead for our purposes.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !/\) Z /.test(stat);
}

/** Host CPU time in ns (first 7 fields of /proc/stat's cpu line) and the number of CPUs. */
export async function systemCpu(): Promise<{ ns: number; cpus: number }> {
  const text = await readFile('/proc/stat', 'utf8');
  const lines = text.split('\n');
  const fields = (lines[0] ?? '').trim().split(/\s+/).slice(1, 8).map(Number);
  return { ns: fields.reduce((a, b) => a + b, 0) * 1e7, cpus: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

/** One interface's counters from /proc/<pid>/net/dev (receive: bytes packets errs drop …; transmit from the 9th field). */
export interface InterfaceCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  rxDropped: number;
  txErrors: number;
  txDropped: number;
}

export async function networkCounters(pid: number): Promise<Record<string, InterfaceCounters>> {
  const out: Record<string, InterfaceCounters> = {};
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => ''); // the process exited: no counters
  for (const line of text.split('\n').slice(2)) {
    const match = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!match || match[1] === 'lo') continue;
    const f = (match[2] as string).trim().split(/\s+/).map(Number);
    out[match[1] as string] = {
      rxBytes: f[0] ?? 0,
      rxPackets: f[1] ?? 0,
      rxErrors: f[2] ?? 0,
      rxDropped: f[3] ?? 0,
      txBytes: f[8] ?? 0,
      txPackets: f[9] ?? 0,
      txErrors: f[10] ?? 0,
      txDropped: f[11] ?? 0,
    };
  }
  return out;
}
