// Test-only helpers (not exported from index.ts): build tar archives entry by entry with tar-stream.
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export interface FixtureEntry {
  name: string;
  type?: tar.Header['type'];
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export async function buildTar(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const entry of entries) {
    const content = entry.content === undefined ? undefined : Buffer.from(entry.content);
    const header = {
      name: entry.name,
      type: entry.type ?? 'file',
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      mtime: entry.mtime,
      linkname: entry.linkname,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
      pax: entry.pax,
      size: content?.length ?? 0,
    } as tar.Header;
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, content ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export async function buildTarGz(entries: FixtureEntry[]): Promise<Buffer> {
  return gzipSync(await buildTar(entries));
}

/** Reads every member of a tar with tar-stream (header + content). */
export async function readTar(bytes: Buffer): Promise<Array<{ header: tar.Header; content: Buffer }>> {
  const extract = tar.extract();
  const result: Array<{ header: tar.Header; content: Buffer }> = [];
  extract.end(bytes);
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const chunk of entry as AsyncIterable<Buffer>) parts.push(chunk);
    result.push({ header: entry.header, content: Buffer.concat(parts) });
  }
  return result;
}
