import { cpuTime, processTable } from './process-table';

describe('processTable', () => {
  it("reads a process's uid, parent, cpu time and command line from /proc, skipping pids that are gone", async () => {
    const rows = await processTable([999_999_999, process.pid]);
    expect(rows).toHaveLength(1);
    const [uid, pid, ppid, time, command] = rows[0] as string[];
    expect([uid, pid, ppid]).toEqual([String(process.getuid?.()), String(process.pid), String(process.ppid)]);
    expect(time).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    expect(command.split(' ')).toEqual(expect.arrayContaining(process.execArgv));
    expect(command.split(' ')[0]).toMatch(/node$/);
  });

  it('formats cpu time as ps does', () => {
    expect(cpuTime(0.99)).toBe('00:00:00');
    expect(cpuTime(3723)).toBe('01:02:03');
    expect(cpuTime(2 * 86400 + 5)).toBe('2-00:00:05');
  });
});
