import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ContainerLog, LOG_HIGH_WATER_BYTES } from './container-log';

describe('ContainerLog', () => {
  it('holds a flooding writer back instead of queueing its output in memory, and loses no line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'muelle-log-'));
    const log = new ContainerLog(dir, { maxBytes: 1 << 30, maxFiles: 1 });
    // A pipe with a small buffer, like the FIFO between the container and the agent.
    const pipe = new PassThrough({ highWaterMark: 64 * 1024 });
    const pumped = log.pump(pipe, 'stdout');
    const line = 'y\n'.repeat(4096); // `yes`: 2 bytes a line, 4096 lines a write
    const lines = 4096 * 150; // 1.2 MiB of output, ~600 k lines, ~40 MB of records
    let maxBacklog = 0;
    let blocked = 0;
    for (let i = 0; i < lines / 4096; i++) {
      maxBacklog = Math.max(maxBacklog, log.backlogBytes);
      if (!pipe.write(line)) {
        blocked++;
        await new Promise((r) => pipe.once('drain', r));
      }
    }
    pipe.end();
    await pumped;
    // Each queued line is a JSON record of ~60 bytes; the backlog stays near the mark, not near 40 MB.
    expect(maxBacklog).toBeLessThan(LOG_HIGH_WATER_BYTES * 3);
    expect(blocked).toBeGreaterThan(0);
    const stored = readFileSync(join(dir, 'container.log'), 'utf8').split('\n').filter(Boolean);
    expect(stored).toHaveLength(lines);
    expect(JSON.parse(stored[stored.length - 1])).toMatchObject({ stream: 'stdout', log: 'y\n' });
  }, 60_000);

  it('rotates between lines at the size limit and keeps the newest files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'muelle-log-'));
    const log = new ContainerLog(dir, { maxBytes: 2_000, maxFiles: 3 });
    for (let i = 0; i < 200; i++) log.append('stderr', `line ${i}\n`);
    await log.flushed();
    expect(readdirSync(dir).sort()).toEqual(['container.log', 'container.log.1', 'container.log.2']);
    for (const file of readdirSync(dir)) expect(readFileSync(join(dir, file)).length).toBeLessThanOrEqual(2_000);
    const newest = await log.read({ stdout: true, stderr: true });
    expect(newest[newest.length - 1].line).toBe('line 199\n');
    // Whole lines only, in order.
    const numbers = newest.map((l) => Number(l.line.split(' ')[1]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers[numbers.length - 1] - numbers[0] + 1).toBe(numbers.length);
  });
});
