import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What `top` shows per process: what /proc tells for certain (no user names: those live in the container's /etc/passwd). */
export const PROCESS_TITLES = ['UID', 'PID', 'PPID', 'TIME', 'CMD'] as const;

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** One row per pid, sorted by pid, from `/proc/<pid>/{stat,status,cmdline}`; processes gone meanwhile are left out. */
export async function processTable(pids: number[], procRoot = '/proc'): Promise<string[][]> {
  const rows: string[][] = [];
  for (const pid of [...pids].sort((a, b) => a - b)) {
    try {
      const [stat, status, cmdline] = await Promise.all(['stat', 'status', 'cmdline'].map((file) => readFile(join(procRoot, String(pid), file), 'utf8')));
      // The command name in stat is in parentheses and may itself contain spaces or ')'.
      const afterName = (stat as string).slice((stat as string).lastIndexOf(')') + 2).split(' ');
      const [, ppid] = afterName;
      const ticks = Number(afterName[11]) + Number(afterName[12]);
      const uid = /^Uid:\s+(\d+)/m.exec(status as string)?.[1] ?? '?';
      const name = (stat as string).slice((stat as string).indexOf('(') + 1, (stat as string).lastIndexOf(')'));
      const command = (cmdline as string).split('\0').filter(Boolean).join(' ') || `[${name}]`;
      rows.push([uid, String(pid), ppid ?? '?', cpuTime(ticks / CLOCK_TICKS_PER_SECOND), command]);
    } catch (error) {
      // A process that exited between listing the cgroup and reading /proc is simply not shown.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  return rows;
}

/** `ps`'s TIME column: cumulative CPU time as [DD-]HH:MM:SS. */
export function cpuTime(seconds: number): string {
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = Math.floor(s / 86400);
  const clock = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return days ? `${days}-${clock}` : clock;
}
