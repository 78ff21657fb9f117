import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { problemOfTarHead, requireTarContext } from './tar-context';

async function tarWithOneFile(): Promise<Buffer> {
  const archive = pack();
  archive.entry({ name: 'Dockerfile' }, 'FROM scratch\n');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('build contexts', () => {
  it('accepts a tar, an empty tar and gzip, and passes every byte on', async () => {
    const tar = await tarWithOneFile();
    expect(problemOfTarHead(tar)).toBeUndefined();
    expect(problemOfTarHead(Buffer.alloc(1024))).toBeUndefined();
    expect(problemOfTarHead(Buffer.from([0x1f, 0x8b, 8, 0]))).toBeUndefined();
    // Delivered in small chunks, as a socket would.
    const body = Readable.from(Array.from({ length: Math.ceil(tar.length / 100) }, (_, i) => tar.subarray(i * 100, i * 100 + 100)));
    const chunks: Buffer[] = [];
    for await (const chunk of await requireTarContext(body)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(tar)).toBe(true);
  });

  it('refuses text, an empty body and a block with a wrong checksum with a 400 naming the problem', async () => {
    const corrupt = await tarWithOneFile();
    corrupt[0] ^= 0xff;
    expect(problemOfTarHead(corrupt)).toMatch(/checksum/);
    await expect(requireTarContext(Readable.from([Buffer.from('not a tar at all')]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not a tar archive: it is 16 bytes long/) });
    await expect(requireTarContext(Readable.from([]))).rejects.toMatchObject({ message: expect.stringMatching(/empty/) });
  });
});
