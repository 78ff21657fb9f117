import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { copyFileRange, CopyAbortedError } from './reused-buffer-copy';

/** A destination that keeps copies of what it got and flushes each write only when told to. */
class HeldSink extends Writable {
  readonly received: Buffer[] = [];
  readonly held: (() => void)[] = [];
  constructor(private readonly hold: boolean) {
    super({ highWaterMark: 1 });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.received.push(Buffer.from(chunk)); // a copy: the source buffer is reused after done()
    if (this.hold) this.held.push(() => done());
    else setImmediate(done);
  }
}

describe('copyFileRange', () => {
  const dir = mkdtempSync(join(tmpdir(), 'muelle-copy-'));
  const data = randomBytes(10_000 + 7);
  const file = join(dir, 'data');
  writeFileSync(file, data);
  let handle: FileHandle;
  beforeEach(async () => (handle = await open(file, 'r')));
  afterEach(() => handle.close());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['the whole file in small chunks', 0, data.length - 1, 1000],
    ['a range across chunk boundaries', 999, 5001, 1000],
    ['one byte', 42, 42, 1000],
    ['a range smaller than one chunk', 10, 20, 1 << 20],
  ])('copies %s exactly, even though its buffers are reused', async (_name, start, end, chunk) => {
    const sink = new HeldSink(false);
    await copyFileRange(handle, start, end, sink, chunk);
    expect(Buffer.concat(sink.received).equals(data.subarray(start, end + 1))).toBe(true);
  });

  it('copies nothing for an empty range', async () => {
    const sink = new HeldSink(false);
    await copyFileRange(handle, 0, -1, sink, 1000);
    expect(sink.received).toHaveLength(0);
  });

  it('reads no further than two chunks ahead of what the destination flushed', async () => {
    const sink = new HeldSink(true);
    const copy = copyFileRange(handle, 0, data.length - 1, sink, 1000);
    await new Promise((r) => setTimeout(r, 50));
    // Nothing flushed: the first chunk is with the sink, the second waits in its queue; no third read.
    expect(sink.received).toHaveLength(1);
    let flushed = 0;
    while (flushed < 11) {
      const next = sink.held.shift();
      if (!next) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      next();
      flushed++;
    }
    await copy;
    expect(Buffer.concat(sink.received).equals(data)).toBe(true);
  });

  it('stops with CopyAbortedError when the destination closes first', async () => {
    const sink = new HeldSink(true);
    const copy = copyFileRange(handle, 0, data.length - 1, sink, 1000);
    await new Promise((r) => setTimeout(r, 20));
    sink.destroy();
    await expect(copy).rejects.toBeInstanceOf(CopyAbortedError);
    expect(sink.received.length).toBeLessThanOrEqual(2);
  });

  it('reports a file shorter than the range', async () => {
    const sink = new HeldSink(false);
    await expect(copyFileRange(handle, 0, data.length + 100, sink, 1000)).rejects.toThrow(/ended at byte 10007/);
  });
});
