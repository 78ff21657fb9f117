import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { writeDurably } from './durable-file-writer';

describe('writeDurably', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'muelle-writer-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

  it('writes every byte in order, across many batches and background syncs', async () => {
    // 20 MiB in uneven chunks: more than one background sync, batches of many sizes.
    const chunks = Array.from({ length: 700 }, (_, i) => randomBytes(1 + ((i * 7919) % 60000)));
    const expected = Buffer.concat(chunks);
    const written = await writeDurably(join(dir, 'f'), Readable.from(chunks));
    expect(written).toBe(expected.length);
    expect(sha(readFileSync(join(dir, 'f')))).toBe(sha(expected));
  });

  it('coalesces thousands of tiny chunks correctly', async () => {
    const chunks = Array.from({ length: 5000 }, (_, i) => Buffer.from([i & 0xff, (i >> 8) & 0xff]));
    await writeDurably(join(dir, 'tiny'), Readable.from(chunks));
    expect(readFileSync(join(dir, 'tiny')).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('takes an async generator as the source', async () => {
    async function* parts() {
      yield Buffer.from('hello ');
      yield Buffer.from('world');
    }
    expect(await writeDurably(join(dir, 'g'), parts)).toBe(11);
    expect(readFileSync(join(dir, 'g'), 'utf8')).toBe('hello world');
  });

  it('writes an empty source as an empty file', async () => {
    expect(await writeDurably(join(dir, 'empty'), Readable.from([]))).toBe(0);
    expect(readFileSync(join(dir, 'empty')).length).toBe(0);
  });

  it('pauses a source that is faster than the disk instead of queueing it all', async () => {
    const source = new PassThrough({ highWaterMark: 64 * 1024 });
    const done = writeDurably(join(dir, 'paced'), source);
    const block = randomBytes(1024 * 1024);
    let refused = 0;
    for (let i = 0; i < 32; i++) {
      if (!source.write(block)) {
        refused++;
        await new Promise((resolve) => source.once('drain', resolve));
      }
    }
    source.end();
    expect(await done).toBe(32 * block.length);
    expect(refused).toBeGreaterThan(0);
  });

  it('rejects when the source fails, and when it is destroyed before its end', async () => {
    const failing = new PassThrough();
    const first = writeDurably(join(dir, 'bad'), failing);
    failing.write(randomBytes(1000));
    failing.destroy(new Error('client went away'));
    await expect(first).rejects.toThrow('client went away');

    const aborted = new PassThrough();
    const second = writeDurably(join(dir, 'aborted'), aborted);
    aborted.write(randomBytes(1000));
    aborted.destroy();
    await expect(second).rejects.toThrow(/closed before its end/);
  });

  it('refuses to overwrite an existing file', async () => {
    writeFileSync(join(dir, 'exists'), 'keep me');
    await expect(writeDurably(join(dir, 'exists'), Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(join(dir, 'exists'), 'utf8')).toBe('keep me');
  });
});
