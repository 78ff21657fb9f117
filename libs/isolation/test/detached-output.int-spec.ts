import { closeSync, constants, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitRecord, LinuxIsolationDriver, parseOutputRecords, type ContainerProcessSpec } from '../src';
import { ensureHelperBuilt, makeBusyboxRootfs, removeDir } from './support';

jest.setTimeout(30000);

/** The helper of a detached container owns its output: it writes the log and the exit record itself. */
describe('detached containers: output and exit captured by the helper', () => {
  let rootfs: string;
  let driver: LinuxIsolationDriver;
  let work: string;

  beforeAll(() => {
    driver = new LinuxIsolationDriver({ helper: ensureHelperBuilt() });
    rootfs = makeBusyboxRootfs();
    work = mkdtempSync(join(tmpdir(), 'muelle-detached-'));
  });
  afterAll(() => {
    removeDir(rootfs);
    removeDir(work);
  });

  const folder = (name: string) => {
    const dir = join(work, name);
    execFileSync('mkdir', ['-p', join(dir, 'logs')]);
    return dir;
  };
  const spec = (dir: string, script: string, extra: Partial<ContainerProcessSpec> = {}, rotation = { maxBytes: 1 << 24, maxFiles: 2 }): ContainerProcessSpec => ({
    rootfs,
    args: ['sh', '-c', script],
    env: ['PATH=/bin'],
    stdio: { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
    detached: { exitFile: join(dir, 'exit'), output: { dir: join(dir, 'logs'), ...rotation } },
    ...extra,
  });
  const recordsOf = (file: string) => parseOutputRecords(readFileSync(file));
  const exitOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'exit'), 'utf8')) as ExitRecord;

  it('writes stdout and stderr byte for byte, even far more than a pipe holds while nobody reads, then the exit record', async () => {
    const dir = folder('flood');
    const before = Date.now();
    const c = await driver.run(spec(dir, 'printf "prompt> "; echo oops >&2; head -c 3000000 /dev/zero | tr "\\0" x; exit 3'));
    expect(await c.wait()).toEqual({ exitCode: 3 });
    const { records, consumed, corrupt } = recordsOf(join(dir, 'logs', 'output.log'));
    expect(corrupt).toBe(false);
    expect(consumed).toBe(statSync(join(dir, 'logs', 'output.log')).size);
    const stdout = Buffer.concat(records.filter((r) => r.stream === 'stdout').map((r) => r.data)).toString();
    expect(stdout).toBe(`prompt> ${'x'.repeat(3_000_000)}`);
    expect(records.filter((r) => r.stream === 'stderr').map((r) => r.data.toString())).toEqual(['oops\n']);
    const exit = exitOf(dir);
    expect(exit).toMatchObject({ exitCode: 3, signal: 0 });
    expect(Date.parse(exit.startedAt)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(exit.finishedAt)).toBeGreaterThanOrEqual(Date.parse(exit.startedAt));
    expect(Date.parse(exit.finishedAt)).toBeLessThanOrEqual(Date.now());
  });

  it('rotates into the configured number of files, each within the limit plus one record', async () => {
    const dir = folder('rotate');
    const c = await driver.run(spec(dir, 'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done', {}, { maxBytes: 16 * 1024, maxFiles: 3 }));
    expect(await c.wait()).toEqual({ exitCode: 0 });
    const files = readdirSync(join(dir, 'logs')).sort();
    expect(files).toEqual(['output.log', 'output.log.1', 'output.log.2']);
    for (const f of files) expect(statSync(join(dir, 'logs', f)).size).toBeLessThanOrEqual(16 * 1024 + 16 + 65536);
    const last = Buffer.concat(recordsOf(join(dir, 'logs', 'output.log')).records.map((r) => r.data)).toString();
    expect(last.endsWith('line 2999\n')).toBe(true);
  });

  it('with a pty the terminal output is the stdout record', async () => {
    const dir = folder('tty');
    const c = await driver.run(spec(dir, 'tty >/dev/null && echo "on a tty"', { tty: true }));
    expect(await c.wait()).toEqual({ exitCode: 0 });
    const text = Buffer.concat(recordsOf(join(dir, 'logs', 'output.log')).records.map((r) => r.data)).toString();
    expect(text).toBe('on a tty\r\n');
  });

  it('holds the stdin FIFO open until closeStdin: the workload sees end-of-file only then', async () => {
    const dir = folder('stdin');
    const fifo = join(dir, 'stdin.fifo');
    execFileSync('mkfifo', [fifo]);
    const keep = openSync(fifo, constants.O_RDWR);
    const containerEnd = openSync(fifo, constants.O_RDONLY);
    const ours = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const c = await driver.run(spec(dir, 'cat; echo "eof after cat"', { stdio: { stdin: containerEnd, stdout: 'ignore', stderr: 'ignore' }, detached: { ...spec(dir, '').detached!, stdinHold: fifo } }));
    closeSync(keep);
    closeSync(containerEnd);
    writeSync(ours, 'hello\n');
    closeSync(ours);
    // Our end is gone, the helper's is not: cat still waits.
    const early = await Promise.race([c.wait().then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 300))]);
    expect(early).toBe('running');
    c.closeStdin();
    expect(await c.wait()).toEqual({ exitCode: 0 });
    const text = Buffer.concat(recordsOf(join(dir, 'logs', 'output.log')).records.map((r) => r.data)).toString();
    expect(text).toBe('hello\neof after cat\n');
  });
});
