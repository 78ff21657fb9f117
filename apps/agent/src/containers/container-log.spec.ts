import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ContainerLog } from './container-log';

/** A source as fast as `yes`: it produces whenever asked, and counts what it produced. */
function flood(totalBytes: number) {
  const chunk = Buffer.from(`${'y'.repeat(127)}\n`.repeat(512));
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= totalBytes) return void this.push(null);
      produced += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, produced: () => produced };
}

describe('ContainerLog', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'muelle-log-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('pauses a flooding reader: queued output stays bounded and every line reaches the disk', async () => {
    const log = new ContainerLog(dir(), { maxBytes: 1 << 30, maxFiles: 1 });
    const source = flood(64 * 1024 * 1024);
    let maxQueued = 0;
    log.on('line', () => (maxQueued = Math.max(maxQueued, log.queuedBytes)));
    await log.pump(source.stream, 'stdout');
    const lines = readFileSync(log.path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(512 * 1024);
    expect(JSON.parse(lines[lines.length - 1]).log).toBe(`${'y'.repeat(127)}\n`);
    // 64 MiB went through with at most one read past the high-water mark queued (1 MiB + one
    // 64 KiB chunk as JSON lines); without the pause the whole flood would sit in memory.
    expect(maxQueued).toBeLessThan(1024 * 1024 + 2 * 64 * 1024);
    expect(log.queuedBytes).toBe(0);
  }, 60_000);

  it('cuts lines longer than 16 KiB and keeps a last line without newline', async () => {
    const log = new ContainerLog(dir(), { maxBytes: 1 << 20, maxFiles: 2 });
    await log.pump(Readable.from([`${'a'.repeat(40_000)}\nlast`]), 'stderr');
    const lines = readFileSync(log.path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).log as string);
    expect(lines.map((l) => l.length)).toEqual([16384, 16384, 40_001 - 32768, 4]);
    expect(lines[3]).toBe('last');
  });

  it('rotates into the configured number of files', async () => {
    const d = dir();
    const log = new ContainerLog(d, { maxBytes: 64 * 1024, maxFiles: 3 });
    for (let i = 0; i < 5000; i++) log.append('stdout', `line ${i}\n`);
    await log.flushed();
    const read = await log.read({ stdout: true, stderr: true });
    expect(read.length).toBeGreaterThan(0);
    expect(read[read.length - 1].line).toBe('line 4999\n');
    expect(() => readFileSync(join(d, 'container.log.3'))).toThrow();
  });
});
