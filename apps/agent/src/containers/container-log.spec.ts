import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOutputRecord } from '@muelle/isolation';
import { ContainerLog } from './container-log';

const ns = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;
const all = { stdout: true, stderr: true };

describe('ContainerLog (reads what the helper writes)', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'muelle-log-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('joins records into lines per stream, cuts lines over 16 KiB and keeps a last line without newline', async () => {
    const d = dir();
    writeFileSync(
      join(d, 'output.log'),
      Buffer.concat([
        encodeOutputRecord('stdout', Buffer.from('hel'), ns('2026-01-01T00:00:01Z')),
        encodeOutputRecord('stderr', Buffer.from('oops\n'), ns('2026-01-01T00:00:02Z')),
        encodeOutputRecord('stdout', Buffer.from(`lo\n${'a'.repeat(40_000)}\nprompt> `), ns('2026-01-01T00:00:03Z')),
      ]),
    );
    const lines = await new ContainerLog(d, { maxBytes: 1 << 20, maxFiles: 1 }).read(all);
    expect(lines.map((l) => [l.stream, l.line.length, l.time])).toEqual([
      ['stderr', 5, '2026-01-01T00:00:02.000Z'],
      ['stdout', 6, '2026-01-01T00:00:01.000Z'],
      ['stdout', 16384, '2026-01-01T00:00:03.000Z'],
      ['stdout', 16384, '2026-01-01T00:00:03.000Z'],
      ['stdout', 40_001 - 32768, '2026-01-01T00:00:03.000Z'],
      ['stdout', 8, '2026-01-01T00:00:03.000Z'],
    ]);
    expect(lines[1]?.line).toBe('hello\n');
    expect(lines[5]?.line).toBe('prompt> ');
    const stderrOnly = await new ContainerLog(d, { maxBytes: 1 << 20, maxFiles: 1 }).read({ stdout: false, stderr: true, tail: 1 });
    expect(stderrOnly.map((l) => l.line)).toEqual(['oops\n']);
  });

  it('reads rotated files oldest first, then the JSON lines of agents before the helper wrote logs', async () => {
    const d = dir();
    writeFileSync(join(d, 'container.log'), `${JSON.stringify({ stream: 'stdout', time: '2025-12-31T23:59:59.000Z', log: 'legacy\n' })}\n{"torn`);
    writeFileSync(join(d, 'output.log.2'), encodeOutputRecord('stdout', Buffer.from('one\n')));
    writeFileSync(join(d, 'output.log.1'), encodeOutputRecord('stdout', Buffer.from('two\n')));
    writeFileSync(join(d, 'output.log'), encodeOutputRecord('stdout', Buffer.from('three\n')));
    const lines = await new ContainerLog(d, { maxBytes: 1 << 20, maxFiles: 3 }).read(all);
    expect(lines.map((l) => l.line)).toEqual(['legacy\n', 'one\n', 'two\n', 'three\n']);
  });

  it('a cursor returns only whole records, follows appends and crosses a rotation without skipping', async () => {
    const d = dir();
    const file = join(d, 'output.log');
    writeFileSync(file, encodeOutputRecord('stdout', Buffer.from('before\n')));
    const log = new ContainerLog(d, { maxBytes: 1 << 20, maxFiles: 2 });
    const cursor = await log.cursor('end').opened();
    expect(await cursor.next()).toEqual([]);
    const record = encodeOutputRecord('stderr', Buffer.from('half-written'));
    appendFileSync(file, record.subarray(0, 20));
    expect(await cursor.next()).toEqual([]);
    appendFileSync(file, record.subarray(20));
    appendFileSync(file, encodeOutputRecord('stdout', Buffer.from('last of the old file')));
    renameSync(file, `${file}.1`);
    writeFileSync(file, encodeOutputRecord('stdout', Buffer.from('first of the new file')));
    const seen: string[] = [];
    for (let round = 0; round < 5; round++) for (const r of await cursor.next()) seen.push(`${r.stream}:${r.data.toString()}`);
    expect(seen).toEqual(['stderr:half-written', 'stdout:last of the old file', 'stdout:first of the new file']);
    await cursor.close();
  });

  it('a cursor that falls two rotations behind reads the files in between, not only the newest', async () => {
    const d = dir();
    const file = join(d, 'output.log');
    writeFileSync(file, encodeOutputRecord('stdout', Buffer.from('A')));
    const cursor = await new ContainerLog(d, { maxBytes: 1 << 20, maxFiles: 3 }).cursor('start').opened();
    renameSync(file, `${file}.1`);
    writeFileSync(file, encodeOutputRecord('stdout', Buffer.from('B')));
    renameSync(`${file}.1`, `${file}.2`);
    renameSync(file, `${file}.1`);
    writeFileSync(file, encodeOutputRecord('stdout', Buffer.from('C')));
    const seen: string[] = [];
    for (let round = 0; round < 8; round++) for (const r of await cursor.next()) seen.push(r.data.toString());
    expect(seen).toEqual(['A', 'B', 'C']);
    await cursor.close();
  });

  it('read(upTo) leaves the rest of the current file to a follower that starts there', async () => {
    const d = dir();
    const file = join(d, 'output.log');
    writeFileSync(file, encodeOutputRecord('stdout', Buffer.from('past\n')));
    const log = new ContainerLog(d, { maxBytes: 1 << 20, maxFiles: 1 });
    const cursor = await log.cursor('end').opened();
    appendFileSync(file, encodeOutputRecord('stdout', Buffer.from('new\n')));
    expect((await log.read(all, cursor.offset)).map((l) => l.line)).toEqual(['past\n']);
    expect((await cursor.next()).map((r) => r.data.toString())).toEqual(['new\n']);
    await cursor.close();
  });

  it('a cursor from the end of a file that does not exist yet reads all of it once it appears', async () => {
    const d = dir();
    const cursor = await new ContainerLog(d, { maxBytes: 1 << 20, maxFiles: 1 }).cursor('end').opened();
    writeFileSync(join(d, 'output.log'), encodeOutputRecord('stdout', Buffer.from('first\n')));
    expect((await cursor.next()).map((r) => r.data.toString())).toEqual(['first\n']);
    await cursor.close();
  });
});
