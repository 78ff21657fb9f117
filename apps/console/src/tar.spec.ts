import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import { tarOf, withinFolder } from './tar';

async function entries(archive: Uint8Array) {
  const found: { name: string; body: string; mode: number }[] = [];
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        found.push({ name: header.name, body: Buffer.concat(chunks).toString('utf8'), mode: header.mode ?? 0 });
        next();
      });
    });
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  Readable.from([Buffer.from(archive)]).pipe(reader);
  await done;
  return found;
}

describe('console build-context tar', () => {
  it('packs files a tar reader reads back byte for byte, long paths included', async () => {
    const long = `${'dir/'.repeat(40)}file.txt`;
    const archive = tarOf([
      { path: 'Dockerfile', bytes: new TextEncoder().encode('FROM busybox\nRUN echo hi\n') },
      { path: 'src/app.sh', bytes: new TextEncoder().encode('#!/bin/sh\necho app\n'), mode: 0o755 },
      { path: long, bytes: new TextEncoder().encode('deep') },
      { path: 'empty', bytes: new Uint8Array(0) },
    ]);
    expect(archive.length % 512).toBe(0);
    expect(await entries(archive)).toEqual([
      { name: 'Dockerfile', body: 'FROM busybox\nRUN echo hi\n', mode: 0o644 },
      { name: 'src/app.sh', body: '#!/bin/sh\necho app\n', mode: 0o755 },
      { name: long, body: 'deep', mode: 0o644 },
      { name: 'empty', body: '', mode: 0o644 },
    ]);
  });

  it('drops the picked folder name browsers put first', () => {
    expect(withinFolder('ctx/Dockerfile')).toBe('Dockerfile');
    expect(withinFolder('ctx/src/a.sh')).toBe('src/a.sh');
  });

  it('refuses a path ustar cannot hold', () => {
    expect(() => tarOf([{ path: 'x'.repeat(300), bytes: new Uint8Array(0) }])).toThrow(/too long/);
  });
});
