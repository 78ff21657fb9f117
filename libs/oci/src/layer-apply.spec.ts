import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { LayerFormatError, LayerUnsupportedError, OciError, UnsafeLayerEntryError } from './errors';
import { type ApplyLayerOptions, type PrivilegedFsHooks, applyLayer } from './layer-apply';
import { type FixtureEntry, buildTar, buildTarGz } from './tar-fixture.spec-helper';

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import os; os.setxattr']);
    return true;
  } catch {
    return false;
  }
})();

/** Test-side implementation of the privileged hooks (production ones come from libs/isolation). */
const commandHooks: PrivilegedFsHooks = {
  async mknod(target, kind, mode, major, minor) {
    const typeLetter = kind === 'fifo' ? 'p' : kind === 'char' ? 'c' : 'b';
    const numbers = kind === 'fifo' ? [] : [String(major), String(minor)];
    await execFileAsync('mknod', ['-m', mode.toString(8), target, typeLetter, ...numbers]);
  },
  async lsetxattr(target, name, value) {
    const script = 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), follow_symlinks=False)';
    await execFileAsync('python3', ['-c', script, target, name, value.toString('hex')]);
  },
};

async function getXattr(target: string, name: string): Promise<string | undefined> {
  const script = 'import os,sys\ntry: print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())\nexcept OSError: print("<none>")';
  const { stdout } = await execFileAsync('python3', ['-c', script, target, name]);
  const value = stdout.trim();
  return value === '<none>' ? undefined : value;
}

let base: string;
let root: string;
let sentinel: string;

/** Everything observable about a directory tree: types, sizes, modes, owners, times, content, link targets. */
async function snapshot(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (current: string) => {
    for (const name of (await fs.readdir(current)).sort()) {
      const full = path.join(current, name);
      const stat = await fs.lstat(full);
      let detail = '';
      if (stat.isFile()) detail = createHash('sha256').update(await fs.readFile(full)).digest('hex');
      if (stat.isSymbolicLink()) detail = await fs.readlink(full);
      lines.push(`${path.relative(dir, full)} ${stat.mode.toString(8)} ${stat.uid}:${stat.gid} ${stat.nlink} ${stat.mtimeMs} ${detail}`);
      if (stat.isDirectory()) await walk(full);
    }
  };
  const self = await fs.lstat(dir);
  lines.push(`. ${self.mode.toString(8)} ${self.mtimeMs}`);
  await walk(dir);
  return lines;
}

let sentinelBefore: string[];

beforeEach(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'oci-apply-'));
  root = path.join(base, 'root');
  sentinel = path.join(base, 'sentinel');
  await fs.mkdir(root);
  await fs.mkdir(path.join(sentinel, 'sub'), { recursive: true });
  await fs.writeFile(path.join(sentinel, 'keep.txt'), 'keep me');
  await fs.writeFile(path.join(sentinel, 'sub', 'inner.txt'), 'inner');
  await fs.utimes(path.join(sentinel, 'sub'), 1_000_000, 1_000_000);
  await fs.utimes(sentinel, 1_000_000, 1_000_000);
  sentinelBefore = await snapshot(sentinel);
});

afterEach(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

async function expectOutsideUntouched() {
  expect(await snapshot(sentinel)).toEqual(sentinelBefore);
  expect((await fs.readdir(base)).sort()).toEqual(['root', 'sentinel']);
}

async function apply(entries: FixtureEntry[], options?: ApplyLayerOptions) {
  return applyLayer(root, Readable.from([await buildTar(entries)]), options);
}

/** Applies a malicious layer: it may fail (only with a typed error) or succeed, but nothing outside the root may change. */
async function applyHostile(entries: FixtureEntry[], options?: ApplyLayerOptions): Promise<OciError | undefined> {
  try {
    await apply(entries, options);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(OciError);
    return error as OciError;
  } finally {
    await expectOutsideUntouched();
  }
}

const inRoot = (hostAbsolute: string) => path.join(root, hostAbsolute);

describe('applyLayer: hostile layers never reach outside the root', () => {
  it('refuses names that climb above the root', async () => {
    expect(await applyHostile([{ name: '../../etc/x', content: 'x' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(await applyHostile([{ name: '../sentinel/keep.txt', content: 'overwritten' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(await applyHostile([{ name: 'a/../../sentinel/pwned', content: 'x' }])).toBeInstanceOf(UnsafeLayerEntryError);
  });

  it('keeps absolute names inside the root', async () => {
    const hostPath = path.join(sentinel, 'pwned');
    expect(await applyHostile([{ name: hostPath, content: 'x' }, { name: '/abs/x', content: 'y' }])).toBeUndefined();
    expect(await fs.readFile(inRoot(hostPath), 'utf8')).toBe('x');
    expect(await fs.readFile(path.join(root, 'abs/x'), 'utf8')).toBe('y');
    expect(existsSync('/abs/x')).toBe(false);
  });

  it('resolves an absolute symlink in the root when a later entry walks through it', async () => {
    const error = await applyHostile([
      { name: 'evil', type: 'symlink', linkname: sentinel },
      { name: 'evil/pwned', content: 'x' },
      { name: 'evil/keep.txt', content: 'overwritten' },
    ]);
    expect(error).toBeUndefined();
    expect(await fs.readlink(path.join(root, 'evil'))).toBe(sentinel);
    expect(await fs.readFile(path.join(inRoot(sentinel), 'pwned'), 'utf8')).toBe('x');
  });

  it('treats a symlink to / as the root itself', async () => {
    // Aimed at the sentinel rather than a real host file, so a regression damages only the test's temp dir.
    expect(
      await applyHostile([
        { name: 'evil', type: 'symlink', linkname: '/' },
        { name: `evil${sentinel}/keep.txt`, content: 'overwritten' },
      ]),
    ).toBeUndefined();
    expect(await fs.readFile(path.join(inRoot(sentinel), 'keep.txt'), 'utf8')).toBe('overwritten');
  });

  it('clamps relative symlinks climbing with .. at the root', async () => {
    expect(
      await applyHostile([
        { name: 'evil', type: 'symlink', linkname: '../../..' },
        { name: 'evil/x', content: 'x' },
        { name: 'up', type: 'symlink', linkname: '../sentinel' },
        { name: 'up/keep.txt', content: 'overwritten' },
        { name: 'a', type: 'symlink', linkname: 'b' },
        { name: 'b', type: 'symlink', linkname: '../../../../sentinel' },
        { name: 'a/sub/inner.txt', content: 'overwritten' },
      ]),
    ).toBeUndefined();
    expect(await fs.readFile(path.join(root, 'x'), 'utf8')).toBe('x');
    expect(await fs.readFile(path.join(root, 'sentinel/keep.txt'), 'utf8')).toBe('overwritten');
    expect(await fs.readFile(path.join(root, 'sentinel/sub/inner.txt'), 'utf8')).toBe('overwritten');
  });

  it('refuses hardlinks out of the root and never links host files', async () => {
    expect(await applyHostile([{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(await applyHostile([{ name: 'x', type: 'link', linkname: '../../x' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(await applyHostile([{ name: 'x', type: 'link', linkname: '../sentinel/keep.txt' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(
      await applyHostile([
        { name: 'evil', type: 'symlink', linkname: sentinel },
        { name: 'x', type: 'link', linkname: 'evil/keep.txt' },
      ]),
    ).toBeInstanceOf(UnsafeLayerEntryError);
    expect(await applyHostile([{ name: 'd/', type: 'directory' }, { name: 'x', type: 'link', linkname: 'd' }])).toBeInstanceOf(UnsafeLayerEntryError);
  });

  it('links an absolute hardlink target to the copy inside the root', async () => {
    expect(
      await applyHostile([
        { name: 'etc/passwd', content: 'image passwd' },
        { name: 'passwd-link', type: 'link', linkname: '/etc/passwd' },
      ]),
    ).toBeUndefined();
    const hostInode = (await fs.stat('/etc/passwd')).ino;
    const link = await fs.stat(path.join(root, 'passwd-link'));
    expect(link.ino).toBe((await fs.stat(path.join(root, 'etc/passwd'))).ino);
    expect(link.ino).not.toBe(hostInode);
  });

  it('refuses whiteouts with empty, "." or ".." names and ignores whiteouts reached through symlinks', async () => {
    for (const name of ['.wh...', '.wh..', '.wh.', 'sub/.wh...']) {
      expect(await applyHostile([{ name: 'sub/', type: 'directory' }, { name }])).toBeInstanceOf(UnsafeLayerEntryError);
    }
    expect(await applyHostile([{ name: '../.wh.sentinel' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(
      await applyHostile([
        { name: 'evil', type: 'symlink', linkname: sentinel },
        { name: 'evil/.wh.keep.txt' },
        { name: 'evil/.wh.sub' },
        { name: 'evil/.wh..wh..opq' },
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/.wh.sentinel' },
      ]),
    ).toBeUndefined();
  });

  it('replaces a symlink to a directory by a real directory instead of following it', async () => {
    expect(
      await applyHostile([
        { name: 'd', type: 'symlink', linkname: sentinel },
        { name: 'd/', type: 'directory', mode: 0o777 },
        { name: 'd/file', content: 'inside' },
      ]),
    ).toBeUndefined();
    const stat = await fs.lstat(path.join(root, 'd'));
    expect(stat.isDirectory()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o777);
    expect(await fs.readFile(path.join(root, 'd/file'), 'utf8')).toBe('inside');
  });

  it('replaces a symlink by a file without writing through it', async () => {
    expect(
      await applyHostile([
        { name: 'f', type: 'symlink', linkname: path.join(sentinel, 'keep.txt') },
        { name: 'f', content: 'replaced', mode: 0o600 },
      ]),
    ).toBeUndefined();
    const stat = await fs.lstat(path.join(root, 'f'));
    expect(stat.isFile()).toBe(true);
    expect(await fs.readFile(path.join(root, 'f'), 'utf8')).toBe('replaced');
  });

  it('never replaces the root itself', async () => {
    expect(await applyHostile([{ name: './', type: 'symlink', linkname: sentinel }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(await applyHostile([{ name: '/', type: 'file', content: 'x' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect(await applyHostile([{ name: 'a/..', type: 'symlink', linkname: '/' }])).toBeInstanceOf(UnsafeLayerEntryError);
    expect((await fs.lstat(root)).isDirectory()).toBe(true);
  });

  it('stops on symlink loops with a typed error', async () => {
    expect(await applyHostile([{ name: 'loop', type: 'symlink', linkname: 'loop' }, { name: 'loop/x', content: 'x' }])).toBeInstanceOf(LayerFormatError);
    expect(
      await applyHostile([
        { name: 'a', type: 'symlink', linkname: '/b' },
        { name: 'b', type: 'symlink', linkname: 'a/.' },
        { name: 'a/x', content: 'x' },
      ]),
    ).toBeInstanceOf(LayerFormatError);
  });

  it('stays inside the root when a symlink planted by one layer is used by the next', async () => {
    await apply([{ name: 'evil', type: 'symlink', linkname: sentinel }, { name: 'rel', type: 'symlink', linkname: '../sentinel' }]);
    expect(
      await applyHostile([
        { name: 'evil/pwned', content: 'x' },
        { name: 'evil/.wh.keep.txt' },
        { name: 'rel/.wh..wh..opq' },
        { name: 'rel/sub/', type: 'directory', mode: 0o777 },
      ]),
    ).toBeUndefined();
    expect(await fs.readFile(path.join(inRoot(sentinel), 'pwned'), 'utf8')).toBe('x');
  });

  it('skips device nodes unless allowed, and reports them', async () => {
    const result = await apply([
      { name: 'dev/', type: 'directory' },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
    ]);
    expect(result.skipped.map((s) => s.path)).toEqual(['dev/sda', 'dev/null']);
    expect(await fs.readdir(path.join(root, 'dev'))).toEqual([]);
    await expectOutsideUntouched();
  });

  it('enforces entry and file-size limits', async () => {
    await expect(apply([{ name: 'a' }, { name: 'b' }, { name: 'c' }], { limits: { maxEntries: 2 } })).rejects.toThrow(LayerFormatError);
    await expect(apply([{ name: 'big', content: Buffer.alloc(10_000) }], { limits: { maxFileBytes: 1000 } })).rejects.toThrow(LayerFormatError);
  });
});

describe('applyLayer: legitimate layers', () => {
  it('creates absolute symlinks verbatim, hardlinks inside the root, and merged-usr paths', async () => {
    const result = await apply([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/busybox', content: 'BUSYBOX', mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
      { name: 'usr/lib/', type: 'directory' },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: 'lib/libc.so', content: 'libc' },
      { name: 'etc/alternatives', type: 'symlink', linkname: '/opt/alt' },
      { name: 'etc/alternatives/java', content: 'java' },
    ]);
    expect(await fs.readlink(path.join(root, 'bin/sh'))).toBe('/bin/busybox');
    const busybox = await fs.stat(path.join(root, 'bin/busybox'));
    const ls = await fs.stat(path.join(root, 'bin/ls'));
    expect(ls.ino).toBe(busybox.ino);
    expect(busybox.nlink).toBe(2);
    expect(await fs.readFile(path.join(root, 'usr/lib/libc.so'), 'utf8')).toBe('libc');
    expect(await fs.readFile(path.join(root, 'opt/alt/java'), 'utf8')).toBe('java');
    expect(result).toMatchObject({ files: 3, symlinks: 3, hardlinks: 1, directories: 2, bytes: 15, skipped: [] });
    await expectOutsideUntouched();
  });

  it('applies whiteouts to lower layers', async () => {
    await apply([
      { name: 'a/keep', content: 'k' },
      { name: 'a/gone', content: 'g' },
      { name: 'a/dir/deep/x', content: 'x' },
      { name: 'a/link', type: 'symlink', linkname: '/a/keep' },
    ]);
    const result = await apply([{ name: 'a/.wh.gone' }, { name: 'a/.wh.dir' }, { name: 'a/.wh.link' }, { name: 'a/.wh.never-existed' }, { name: 'nodir/.wh.x' }]);
    expect((await fs.readdir(path.join(root, 'a'))).sort()).toEqual(['keep']);
    expect(result.whiteouts).toBe(5);
    expect(existsSync(path.join(root, 'nodir'))).toBe(false);
  });

  it('makes a directory opaque regardless of where the marker sits in the tar', async () => {
    const lower = [
      { name: 'o/lower', content: 'l' },
      { name: 'o/sub/lower2', content: 'l2' },
      { name: 'p/lower', content: 'l' },
    ];
    await apply(lower);
    const result = await apply([
      { name: 'o/', type: 'directory' },
      { name: 'o/sub/', type: 'directory' },
      { name: 'o/sub/new', content: 'n' },
      { name: 'o/.wh..wh..opq' },
      { name: 'p/.wh..wh..opq' },
      { name: 'p/new', content: 'n' },
    ]);
    expect(result.opaqueDirectories).toBe(2);
    expect((await fs.readdir(path.join(root, 'o'))).sort()).toEqual(['sub']);
    expect(await fs.readdir(path.join(root, 'o/sub'))).toEqual(['new']);
    expect(await fs.readdir(path.join(root, 'p'))).toEqual(['new']);
  });

  it('replaces files by directories and directories by files, and keeps lower children on dir-on-dir', async () => {
    await apply([{ name: 'x', content: 'file' }, { name: 'y/child', content: 'c' }, { name: 'z/child', content: 'c' }]);
    await apply([{ name: 'x/', type: 'directory' }, { name: 'x/inner', content: 'i' }, { name: 'y', content: 'now a file' }, { name: 'z/', type: 'directory', mode: 0o700 }]);
    expect(await fs.readFile(path.join(root, 'x/inner'), 'utf8')).toBe('i');
    expect(await fs.readFile(path.join(root, 'y'), 'utf8')).toBe('now a file');
    expect(await fs.readFile(path.join(root, 'z/child'), 'utf8')).toBe('c');
    expect((await fs.stat(path.join(root, 'z'))).mode & 0o7777).toBe(0o700);
  });

  it('applies modes, mtimes (directories last) and PAX long names', async () => {
    const mtime = new Date('2020-02-02T02:02:02Z');
    const longName = `${'d'.repeat(80)}/${'e'.repeat(80)}/${'f'.repeat(120)}`;
    await apply([
      { name: 'dir/', type: 'directory', mode: 0o750, mtime },
      { name: 'dir/suid', content: 'x', mode: 0o4755, mtime },
      { name: 'dir/link', type: 'symlink', linkname: 'suid', mtime },
      { name: 'dir/sticky/', type: 'directory', mode: 0o1777, mtime },
      { name: longName, content: 'long' },
    ]);
    const dir = await fs.stat(path.join(root, 'dir'));
    expect(dir.mode & 0o7777).toBe(0o750);
    expect(dir.mtime.getTime()).toBe(mtime.getTime());
    expect((await fs.stat(path.join(root, 'dir/suid'))).mode & 0o7777).toBe(0o4755);
    expect((await fs.stat(path.join(root, 'dir/sticky'))).mode & 0o7777).toBe(0o1777);
    expect((await fs.lstat(path.join(root, 'dir/link'))).mtime.getTime()).toBe(mtime.getTime());
    expect(await fs.readFile(path.join(root, longName), 'utf8')).toBe('long');
  });

  it('returns the diffId of the uncompressed stream for plain and gzip input', async () => {
    // A fixed mtime: the two tars are built apart in time and must be the same bytes.
    const mtime = new Date('2024-01-01T00:00:00Z');
    const entries: FixtureEntry[] = [{ name: 'a/b', content: randomBytes(5000), mtime }, { name: 'c', type: 'symlink', linkname: '/a/b', mtime }];
    const plain = await buildTar(entries);
    const expected = `sha256:${createHash('sha256').update(plain).digest('hex')}`;
    const fromPlain = await applyLayer(root, Readable.from([plain]));
    expect(fromPlain).toMatchObject({ diffId: expected, tarSize: plain.length, compression: 'none' });

    const gz = await buildTarGz(entries);
    const second = await fs.mkdtemp(path.join(base, 'root2-'));
    // one byte per chunk: the magic-byte sniffing must cope with tiny chunks
    const chunks = Array.from(gz.subarray(0, 10), (byte) => Buffer.from([byte]));
    const fromGzip = await applyLayer(second, Readable.from([...chunks, gz.subarray(10)]));
    expect(fromGzip).toMatchObject({ diffId: expected, tarSize: plain.length, compression: 'gzip' });
    expect(await fs.readFile(path.join(second, 'a/b'))).toEqual(entries[0].content);
    await fs.rm(second, { recursive: true });
  });

  it('sets uid/gid as root', async () => {
    if (!isRoot) {
      console.warn('skipped lchown check: needs root');
      return;
    }
    await apply([
      { name: 'owned', content: 'x', uid: 1234, gid: 5678, mode: 0o2755 },
      { name: 'owned-link', type: 'symlink', linkname: '/nowhere', uid: 42, gid: 43 },
    ]);
    const stat = await fs.stat(path.join(root, 'owned'));
    expect([stat.uid, stat.gid, stat.mode & 0o7777]).toEqual([1234, 5678, 0o2755]);
    const link = await fs.lstat(path.join(root, 'owned-link'));
    expect([link.uid, link.gid]).toEqual([42, 43]);
  });
});

describe('applyLayer: archives from GNU tar', () => {
  it('extracts ./-prefixed names, GNU long names, hardlinks and symlinks as tar wrote them', async () => {
    const source = path.join(base, 'src');
    const longDir = `${'l'.repeat(90)}/${'m'.repeat(90)}`;
    await fs.mkdir(path.join(source, longDir), { recursive: true });
    await fs.writeFile(path.join(source, longDir, `${'n'.repeat(110)}.txt`), 'deep');
    await fs.writeFile(path.join(source, 'file'), 'content');
    await fs.link(path.join(source, 'file'), path.join(source, 'hard'));
    await fs.symlink('/file', path.join(source, 'abs-link'));
    const archive = path.join(base, 'gnu.tar.gz');
    await execFileAsync('tar', ['--format=gnu', '-czf', archive, '-C', source, '.']);
    const result = await applyLayer(root, (await import('node:fs')).createReadStream(archive));
    expect(result.compression).toBe('gzip');
    expect(await fs.readFile(path.join(root, longDir, `${'n'.repeat(110)}.txt`), 'utf8')).toBe('deep');
    expect((await fs.stat(path.join(root, 'hard'))).ino).toBe((await fs.stat(path.join(root, 'file'))).ino);
    expect(await fs.readlink(path.join(root, 'abs-link'))).toBe('/file');
    await fs.rm(source, { recursive: true });
    await fs.rm(archive);
    await expectOutsideUntouched();
  });
});

describe('applyLayer: corrupt and unsupported input', () => {
  it('rejects zstd, corrupt gzip and truncated tars with typed errors', async () => {
    await expect(applyLayer(root, Readable.from([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0])]))).rejects.toThrow(LayerUnsupportedError);
    const gz = await buildTarGz([{ name: 'a', content: 'x'.repeat(1000) }]);
    const corrupt = Buffer.from(gz);
    corrupt.fill(0x55, 20, 40);
    await expect(applyLayer(root, Readable.from([corrupt]))).rejects.toThrow(LayerFormatError);
    const tarBytes = await buildTar([{ name: 'a', content: 'x'.repeat(3000) }]);
    await expect(applyLayer(root, Readable.from([tarBytes.subarray(0, 1500)]))).rejects.toThrow(LayerFormatError);
    await expect(applyLayer(root, Readable.from([randomBytes(2048)]))).rejects.toThrow(LayerFormatError);
  });

  it('needs the privileged hooks for overlay mode', async () => {
    await expect(apply([{ name: 'a' }], { whiteoutMode: 'overlay' })).rejects.toThrow(LayerUnsupportedError);
  });
});

const privileged = isRoot && hasPython;
const privilegedReason = !isRoot ? ' [skipped: needs root]' : !hasPython ? ' [skipped: needs python3 for the test xattr hook]' : '';
(privileged ? describe : describe.skip)(`applyLayer: privileged hooks${privilegedReason}`, () => {
  // Each xattr and mknod goes through a python3 hook process: seconds on a loaded two-core machine.
  jest.setTimeout(30_000);
  it('creates devices and FIFOs through the mknod hook when allowed', async () => {
    const result = await apply(
      [
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 },
        { name: 'run/fifo', type: 'fifo', mode: 0o600 },
      ],
      { allowDevices: true, hooks: commandHooks },
    );
    expect(result.specialFiles).toBe(3);
    const nullDev = await fs.lstat(path.join(root, 'dev/null'));
    expect(nullDev.isCharacterDevice()).toBe(true);
    expect(nullDev.rdev).toBe(0x103);
    expect(nullDev.mode & 0o777).toBe(0o666);
    expect((await fs.lstat(path.join(root, 'dev/loop0'))).isBlockDevice()).toBe(true);
    expect((await fs.lstat(path.join(root, 'run/fifo'))).isFIFO()).toBe(true);
    await expectOutsideUntouched();
  });

  it('sets SCHILY.xattr records but never overlay xattrs from the image', async () => {
    await apply(
      [
        { name: 'f', content: 'x', pax: { 'SCHILY.xattr.user.muelle': 'hello', 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
        { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.user.dir': 'yes' } },
      ],
      { hooks: commandHooks },
    );
    expect(await getXattr(path.join(root, 'f'), 'user.muelle')).toBe('hello');
    expect(await getXattr(path.join(root, 'f'), 'trusted.overlay.opaque')).toBeUndefined();
    expect(await getXattr(path.join(root, 'd'), 'user.dir')).toBe('yes');
  });

  it('turns whiteouts into 0:0 char devices and opaque markers into the overlay xattr in overlay mode', async () => {
    const result = await apply(
      [{ name: 'etc/.wh.motd' }, { name: 'var/cache/' , type: 'directory' }, { name: 'var/cache/.wh..wh..opq' }, { name: 'var/cache/new', content: 'n' }],
      { whiteoutMode: 'overlay', hooks: commandHooks },
    );
    expect(result).toMatchObject({ whiteouts: 1, opaqueDirectories: 1 });
    const whiteout = await fs.lstat(path.join(root, 'etc/motd'));
    expect(whiteout.isCharacterDevice()).toBe(true);
    expect(whiteout.rdev).toBe(0);
    expect(await getXattr(path.join(root, 'var/cache'), 'trusted.overlay.opaque')).toBe('y');
    expect(await fs.readFile(path.join(root, 'var/cache/new'), 'utf8')).toBe('n');
    expect(existsSync(path.join(root, 'etc/.wh.motd'))).toBe(false);
    await expectOutsideUntouched();
  });

  it('keeps overlay-mode whiteouts reached through symlinks inside the root', async () => {
    expect(
      await applyHostile(
        [
          { name: 'evil', type: 'symlink', linkname: sentinel },
          { name: 'evil/.wh.keep.txt' },
          { name: 'evil/.wh..wh..opq' },
        ],
        { whiteoutMode: 'overlay', hooks: commandHooks },
      ),
    ).toBeUndefined();
    expect((await fs.lstat(path.join(inRoot(sentinel), 'keep.txt'))).isCharacterDevice()).toBe(true);
    expect(await getXattr(sentinel, 'trusted.overlay.opaque')).toBeUndefined();
  });
});
