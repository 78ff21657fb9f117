import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { LayerWriteError } from './errors';
import { applyLayer } from './layer-apply';
import { type LayerEntry, type WriteLayerOptions, opaqueEntry, tarDirectory, whiteoutEntry, writeLayerTar } from './layer-write';
import { MediaType } from './media-types';
import { readTar } from './tar-fixture.spec-helper';

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

class MemorySink extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void) {
    this.chunks.push(chunk);
    callback();
  }
  get bytes() {
    return Buffer.concat(this.chunks);
  }
}

async function write(entries: LayerEntry[], options?: WriteLayerOptions) {
  const sink = new MemorySink();
  const result = await writeLayerTar(entries, sink, options);
  return { result, bytes: sink.bytes };
}

let base: string;
beforeEach(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'oci-write-'));
});
afterEach(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

const sampleEntries = (): LayerEntry[] => [
  { path: 'usr/bin/tool', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_123.9, content: Buffer.from('#!/bin/sh\necho hi\n') },
  { path: 'usr/', type: 'directory', mtime: 1_600_000_000 },
  { path: 'usr/bin', type: 'directory', mode: 0o755, mtime: 1_600_000_000 },
  { path: 'etc/motd', type: 'file', mode: 0o644, uid: 1000, gid: 1000, mtime: new Date('2024-05-05T00:00:00Z'), content: Buffer.from('hello') },
  { path: 'etc', type: 'directory' },
  { path: 'usr/bin/sh', type: 'symlink', linkTarget: '/usr/bin/tool', mtime: 1_600_000_000 },
  { path: 'usr/bin/tool2', type: 'hardlink', linkTarget: 'usr/bin/tool' },
];

describe('writeLayerTar', () => {
  it('is deterministic: input order does not change a byte', async () => {
    const first = await write(sampleEntries());
    const second = await write([...sampleEntries()].reverse());
    expect(second.bytes.equals(first.bytes)).toBe(true);
    expect(second.result).toEqual(first.result);
  });

  it('reports diffId, digest and size of what it wrote', async () => {
    const { result, bytes } = await write(sampleEntries());
    const tar = gunzipSync(bytes);
    expect(result).toEqual({ diffId: sha256(tar), digest: sha256(bytes), size: bytes.length, tarSize: tar.length, mediaType: MediaType.OciLayerGzip });
    expect(tar.length % 512).toBe(0);
    const plain = await write(sampleEntries(), { compression: 'none' });
    expect(plain.bytes.equals(tar)).toBe(true);
    expect(plain.result).toEqual({ diffId: sha256(tar), digest: sha256(tar), size: tar.length, tarSize: tar.length, mediaType: MediaType.OciLayerTar });
  });

  it('writes a gzip header without mtime and with a fixed OS byte', async () => {
    const { bytes } = await write(sampleEntries());
    expect([...bytes.subarray(0, 4)]).toEqual([0x1f, 0x8b, 0x08, 0x00]);
    expect(bytes.readUInt32LE(4)).toBe(0); // MTIME
    expect(bytes[9]).toBe(3); // OS = Unix
  });

  it('writes sorted entries with the given attributes, empty user names and no atime/ctime', async () => {
    const { bytes } = await write(sampleEntries(), { compression: 'none' });
    const members = await readTar(bytes);
    expect(members.map((m) => m.header.name)).toEqual(['etc/', 'etc/motd', 'usr/', 'usr/bin/', 'usr/bin/sh', 'usr/bin/tool', 'usr/bin/tool2']);
    const motd = members[1].header;
    expect([motd.type, motd.mode, motd.uid, motd.gid, motd.uname, motd.gname, motd.mtime.getTime() / 1000]).toEqual(['file', 0o644, 1000, 1000, '', '', 1_714_867_200]);
    expect(members[1].content.toString()).toBe('hello');
    expect(members[4].header).toMatchObject({ type: 'symlink', linkname: '/usr/bin/tool', mode: 0o777 });
    expect(members[5].header.mtime.getTime()).toBe(1_700_000_123_000); // truncated to seconds
    expect(members[6].header).toMatchObject({ type: 'link', linkname: 'usr/bin/tool', size: 0 });
    expect(members[0].header.mode).toBe(0o755);
    expect(bytes.includes(Buffer.from('atime'))).toBe(false);
    expect(bytes.includes(Buffer.from('ctime'))).toBe(false);
  });

  it('clamps mtimes later than SOURCE_DATE_EPOCH and keeps earlier ones', async () => {
    const epoch = 1_650_000_000;
    const { bytes } = await write(sampleEntries(), { compression: 'none', sourceDateEpoch: epoch });
    const times = Object.fromEntries((await readTar(bytes)).map((m) => [m.header.name, m.header.mtime.getTime() / 1000]));
    expect(times['usr/bin/tool']).toBe(epoch);
    expect(times['etc/motd']).toBe(epoch);
    expect(times['usr/']).toBe(1_600_000_000);
    expect(times['etc/']).toBe(0);
    const again = await write([...sampleEntries()].reverse(), { compression: 'none', sourceDateEpoch: epoch });
    expect(again.bytes.equals(bytes)).toBe(true);
  });

  it('uses PAX records only when ustar cannot hold the value', async () => {
    const plain = await write(sampleEntries(), { compression: 'none' });
    expect(countPaxHeaders(plain.bytes)).toBe(0);

    const splittable = `${'a'.repeat(120)}/${'b'.repeat(90)}`; // fits prefix + name
    const unsplittable = `${'c'.repeat(10)}/${'d'.repeat(130)}`;
    const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x0a, 0xff]);
    const { bytes } = await write(
      [
        { path: splittable, type: 'file', content: Buffer.from('s') },
        { path: unsplittable, type: 'file', content: Buffer.from('u') },
        { path: 'ünïcödé', type: 'file', content: Buffer.from('n') },
        { path: 'bigid', type: 'file', uid: 3_000_000, gid: 70_000 },
        { path: 'cap', type: 'file', xattrs: { 'security.capability': capability } },
        { path: 'longlink', type: 'symlink', linkTarget: `/${'x'.repeat(150)}` },
      ],
      { compression: 'none' },
    );
    expect(countPaxHeaders(bytes)).toBe(5);
    const members = await readTar(bytes);
    const byName = Object.fromEntries(members.map((m) => [m.header.name, m.header]));
    expect(Object.keys(byName).sort()).toEqual(['bigid', 'cap', unsplittable, 'longlink', splittable, 'ünïcödé'].sort());
    expect(byName.longlink.linkname).toBe(`/${'x'.repeat(150)}`);
    expect(paxValue(bytes, 'uid')?.toString()).toBe('3000000');
    expect(paxValue(bytes, 'SCHILY.xattr.security.capability')?.equals(capability)).toBe(true);
  });

  it('produces archives GNU tar lists identically', async () => {
    const longName = `${'c'.repeat(10)}/${'d'.repeat(130)}`;
    const { bytes } = await write([...sampleEntries(), { path: longName, type: 'file', content: Buffer.from('x') }], { compression: 'gzip' });
    const file = path.join(base, 'layer.tar.gz');
    await fs.writeFile(file, bytes);
    const { stdout, stderr } = await execFileAsync('tar', ['-tzf', file]);
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual(['c'.repeat(10) + '/' + 'd'.repeat(130), 'etc/', 'etc/motd', 'usr/', 'usr/bin/', 'usr/bin/sh', 'usr/bin/tool', 'usr/bin/tool2'].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('rejects duplicates, ".." and entries without link targets', async () => {
    await expect(write([{ path: 'a', type: 'file' }, { path: './a/', type: 'directory' }])).rejects.toThrow(LayerWriteError);
    await expect(write([{ path: 'a/../../b', type: 'file' }])).rejects.toThrow(LayerWriteError);
    await expect(write([{ path: '/', type: 'directory' }])).rejects.toThrow(LayerWriteError);
    await expect(write([{ path: 'l', type: 'symlink' }])).rejects.toThrow(LayerWriteError);
  });

  it('streams sourcePath files and notices when one changed size', async () => {
    const source = path.join(base, 'data.bin');
    await fs.writeFile(source, Buffer.alloc(100_000, 7));
    const { bytes } = await write([{ path: 'data.bin', type: 'file', sourcePath: source }], { compression: 'none' });
    expect((await readTar(bytes))[0].content.equals(Buffer.alloc(100_000, 7))).toBe(true);
    await expect(write([{ path: 'data.bin', type: 'file', sourcePath: source, size: 50 }])).rejects.toThrow(/changed size/);
  });

  it('writes whiteouts and opaque markers that applyLayer understands', async () => {
    const root = path.join(base, 'root');
    await fs.mkdir(root);
    const lower = await write([
      { path: 'a/gone', type: 'file', content: Buffer.from('g') },
      { path: 'a/kept', type: 'file', content: Buffer.from('k') },
      { path: 'o/old', type: 'file', content: Buffer.from('o') },
    ]);
    await applyLayer(root, Readable.from([lower.bytes]));
    expect(whiteoutEntry('/a/gone').path).toBe('a/.wh.gone');
    expect(opaqueEntry('o/').path).toBe('o/.wh..wh..opq');
    const upper = await write([whiteoutEntry('a/gone'), opaqueEntry('o'), { path: 'o/new', type: 'file', content: Buffer.from('n') }]);
    const applied = await applyLayer(root, Readable.from([upper.bytes]));
    expect(applied.diffId).toBe(upper.result.diffId);
    expect(await fs.readdir(path.join(root, 'a'))).toEqual(['kept']);
    expect(await fs.readdir(path.join(root, 'o'))).toEqual(['new']);
  });
});

describe('tarDirectory', () => {
  async function makeTree(dir: string) {
    await fs.mkdir(path.join(dir, 'bin'), { recursive: true });
    await fs.mkdir(path.join(dir, 'empty'));
    await fs.writeFile(path.join(dir, 'bin/busybox'), 'BUSYBOX');
    await fs.chmod(path.join(dir, 'bin/busybox'), 0o4755);
    await fs.link(path.join(dir, 'bin/busybox'), path.join(dir, 'bin/ls'));
    await fs.link(path.join(dir, 'bin/busybox'), path.join(dir, 'bin/cat'));
    await fs.symlink('/bin/busybox', path.join(dir, 'bin/sh'));
    await fs.writeFile(path.join(dir, 'readme'), 'read me');
    await fs.chmod(path.join(dir, 'empty'), 0o700);
    if (isRoot) await fs.lchown(path.join(dir, 'readme'), 1234, 4321);
    for (const p of ['bin/busybox', 'readme', 'empty', 'bin', '.']) await fs.utimes(path.join(dir, p), 1_500_000_000, 1_500_000_000);
    await fs.lutimes(path.join(dir, 'bin/sh'), 1_500_000_000, 1_500_000_000);
  }

  it('captures a tree deterministically and applyLayer restores it', async () => {
    const tree = path.join(base, 'tree');
    await makeTree(tree);
    const sinkA = new MemorySink();
    const a = await tarDirectory(tree, sinkA, { sourceDateEpoch: 1_600_000_000 });
    const sinkB = new MemorySink();
    const b = await tarDirectory(tree, sinkB, { sourceDateEpoch: 1_600_000_000 });
    expect(b).toEqual(a);
    expect(sinkB.bytes.equals(sinkA.bytes)).toBe(true);

    const members = await readTar(gunzipSync(sinkA.bytes));
    expect(members.map((m) => `${m.header.type} ${m.header.name}`)).toEqual([
      'directory bin/',
      'file bin/busybox',
      'link bin/cat',
      'link bin/ls',
      'symlink bin/sh',
      'directory empty/',
      'file readme',
    ]);
    expect(members[2].header.linkname).toBe('bin/busybox');

    const restored = path.join(base, 'restored');
    await fs.mkdir(restored);
    const applied = await applyLayer(restored, Readable.from([sinkA.bytes]));
    expect(applied.diffId).toBe(a.diffId);
    expect((await fs.stat(path.join(restored, 'bin/ls'))).ino).toBe((await fs.stat(path.join(restored, 'bin/busybox'))).ino);
    expect((await fs.stat(path.join(restored, 'bin/busybox'))).mode & 0o7777).toBe(0o4755);
    expect(await fs.readlink(path.join(restored, 'bin/sh'))).toBe('/bin/busybox');
    expect((await fs.stat(path.join(restored, 'empty'))).mode & 0o7777).toBe(0o700);
    expect((await fs.stat(path.join(restored, 'readme'))).mtimeMs).toBe(1_500_000_000_000);
    if (isRoot) expect((await fs.stat(path.join(restored, 'readme'))).uid).toBe(1234);
  });

  it('places the tree under a prefix with parent directories', async () => {
    const tree = path.join(base, 'tree');
    await makeTree(tree);
    const sink = new MemorySink();
    await tarDirectory(tree, sink, { prefix: '/app/current/', compression: 'none' });
    const names = (await readTar(sink.bytes)).map((m) => m.header.name);
    expect(names.slice(0, 4)).toEqual(['app/', 'app/current/', 'app/current/bin/', 'app/current/bin/busybox']);
    expect(names).toContain('app/current/readme');
  });

  (isRoot ? it : it.skip)(`includes FIFOs and device nodes${isRoot ? '' : ' [skipped: mknod needs root]'}`, async () => {
    const tree = path.join(base, 'tree');
    await fs.mkdir(tree);
    await execFileAsync('mknod', [path.join(tree, 'null'), 'c', '1', '3']);
    await execFileAsync('mknod', [path.join(tree, 'fifo'), 'p']);
    const sink = new MemorySink();
    await tarDirectory(tree, sink, { compression: 'none' });
    const headers = (await readTar(sink.bytes)).map((m) => m.header);
    expect(headers.map((h) => [h.name, h.type])).toEqual([
      ['fifo', 'fifo'],
      ['null', 'character-device'],
    ]);
    expect([headers[1].devmajor, headers[1].devminor]).toEqual([1, 3]);
  });
});

/** Number of PAX extended headers (typeflag 'x') in a plain tar. */
function countPaxHeaders(tar: Buffer): number {
  let count = 0;
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = Number.parseInt(header.toString('ascii', 124, 135), 8) || 0;
    if (header[156] === 'x'.charCodeAt(0)) count += 1;
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return count;
}

/** Raw bytes of a PAX record value (tar-stream decodes values as UTF-8, which loses binary xattrs). */
function paxValue(tar: Buffer, key: string): Buffer | undefined {
  const marker = Buffer.from(` ${key}=`);
  const at = tar.indexOf(marker);
  if (at === -1) return undefined;
  let start = at;
  while (start > 0 && tar[start - 1] >= 0x30 && tar[start - 1] <= 0x39) start -= 1;
  const length = Number.parseInt(tar.toString('ascii', start, at), 10);
  return tar.subarray(at + marker.length, start + length - 1);
}
