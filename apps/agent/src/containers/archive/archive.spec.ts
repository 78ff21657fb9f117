import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { resolveSource, tarOf } from './archive-read';
import { entryPath, extractInto, resolveDestination } from './archive-write';
import { ContainerRoot } from './in-root';

/** The host's secret next to a container root: nothing a copy does may read or write it. */
let base: string;
let rootDir: string;
let hostSecret: string;
let root: ContainerRoot;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'muelle-archive-'));
  rootDir = join(base, 'root');
  hostSecret = join(base, 'host-shadow');
  await writeFile(hostSecret, 'HOST SECRET');
  await mkdir(join(rootDir, 'etc'), { recursive: true });
  await writeFile(join(rootDir, 'etc', 'shadow'), 'container shadow');
  await mkdir(join(rootDir, 'data', 'sub'), { recursive: true });
  await writeFile(join(rootDir, 'data', 'a.txt'), 'alpha');
  await writeFile(join(rootDir, 'data', 'sub', 'b.txt'), 'beta', { mode: 0o640 });
  root = await ContainerRoot.open(rootDir);
});

afterEach(async () => {
  await root.close();
  await rm(base, { recursive: true, force: true });
});

async function readTar(stream: Readable): Promise<Map<string, { type: string; body: string; linkname?: string | null; mode?: number }>> {
  const entries = new Map<string, { type: string; body: string; linkname?: string | null; mode?: number }>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c) => chunks.push(c as Buffer));
      body.on('end', () => {
        entries.set(header.name, { type: header.type ?? 'file', body: Buffer.concat(chunks).toString(), linkname: header.linkname, mode: header.mode });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    stream.on('error', reject);
  });
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  return entries;
}

async function tarOfPath(path: string) {
  const { resolved, entryName, stat: pathStat } = await resolveSource(root, path);
  try {
    return { entries: await readTar(tarOf(root, resolved, entryName)), stat: pathStat };
  } finally {
    await resolved.release();
  }
}

function tarBytes(entries: Array<Partial<tar.Header> & { name: string; body?: string }>): Readable {
  const pack = tar.pack();
  for (const { body, ...header } of entries) pack.entry(header, body ?? '');
  pack.finalize();
  return pack as unknown as Readable;
}

describe('resolving inside a container root', () => {
  it('keeps `..` at the root', async () => {
    const { entries } = await tarOfPath('/data/../../../../etc/shadow');
    expect(entries.get('shadow')?.body).toBe('container shadow');
  });

  it('follows an absolute symlink inside the root, never to the host', async () => {
    await symlink('/etc/shadow', join(rootDir, 'data', 'abs'));
    await symlink(hostSecret, join(rootDir, 'data', 'hostpath'));
    const followed = await root.resolve('/data/abs', true);
    expect(followed.path).toBe('/etc/shadow');
    await followed.release();
    // A link to the host's own path means that path inside the container, which does not exist.
    await expect(root.resolve('/data/hostpath', true)).rejects.toThrow(/no such file or directory in the container: \/tmp/);
    await expect(tarOfPath('/data/hostpath')).resolves.toMatchObject({ stat: { linkTarget: '' } });
  });

  it('copies a symlink itself unless the path ends in /. ; its stat names the target inside the root', async () => {
    await symlink('../../../../etc/shadow', join(rootDir, 'data', 'rel'));
    const { entries, stat: pathStat } = await tarOfPath('/data/rel');
    expect(entries.get('rel')).toMatchObject({ type: 'symlink', linkname: '../../../../etc/shadow' });
    expect(pathStat.linkTarget).toBe('/etc/shadow');
    expect(pathStat.mode & 2 ** 27).toBeTruthy();
  });

  it('resolves symlinked directories inside the root', async () => {
    await symlink('/', join(rootDir, 'data', 'up'));
    const { entries } = await tarOfPath('/data/up/data/up/data/../etc/shadow');
    expect(entries.get('shadow')?.body).toBe('container shadow');
  });

  it('stops on symlink loops', async () => {
    await symlink('/data/loop2', join(rootDir, 'data', 'loop1'));
    await symlink('/data/loop1', join(rootDir, 'data', 'loop2'));
    await expect(root.resolve('/data/loop1', true)).rejects.toThrow(/too many levels of symbolic links/);
    await expect(root.resolve('/data/loop1/x', false)).rejects.toThrow(/too many levels of symbolic links/);
  });

  it('refuses relative paths and NUL bytes', async () => {
    await expect(root.resolve('etc/shadow', true)).rejects.toThrow(/must be absolute/);
    await expect(root.resolve('/etc/\0', true)).rejects.toThrow(/NUL/);
  });
});

describe('a tar of a path', () => {
  it('has the directory, its files, modes and hard links', async () => {
    await link(join(rootDir, 'data', 'a.txt'), join(rootDir, 'data', 'hard'));
    const { entries, stat: pathStat } = await tarOfPath('/data');
    expect(pathStat).toMatchObject({ name: 'data' });
    expect(pathStat.mode & 2 ** 31).toBeTruthy();
    expect(entries.get('data/a.txt')?.body).toBe('alpha');
    expect(entries.get('data/sub/b.txt')).toMatchObject({ body: 'beta', mode: 0o640 });
    expect(entries.get('data/hard')).toMatchObject({ type: 'link', linkname: 'data/a.txt' });
    expect(entries.get('data/sub')?.type).toBe('directory');
  });

  it('names the entries `./…` for `dir/.`', async () => {
    const { entries } = await tarOfPath('/data/.');
    expect([...entries.keys()].sort()).toEqual(['.', 'a.txt', 'sub', 'sub/b.txt']);
  });

  it('stops when a file is swapped for a symlink during the copy, and sends no host byte', async () => {
    const { resolved, entryName } = await resolveSource(root, '/data/a.txt');
    // The container swaps the file it listed for a link to a host path between the walk and the open.
    await rm(join(rootDir, 'data', 'a.txt'));
    await symlink(hostSecret, join(rootDir, 'data', 'a.txt'));
    const chunks: Buffer[] = [];
    const stream = tarOf(root, resolved, entryName);
    stream.on('data', (c: Buffer) => chunks.push(c));
    await expect(new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject))).rejects.toThrow(/changed in the container during the copy/);
    await resolved.release();
    expect(Buffer.concat(chunks).toString()).not.toContain('HOST SECRET');
  });

  it('stops when a directory is swapped for a symlink during the walk', async () => {
    const { resolved, entryName } = await resolveSource(root, '/data');
    await rm(join(rootDir, 'data', 'sub'), { recursive: true });
    await symlink(base, join(rootDir, 'data', 'sub'));
    const entries = await readTar(tarOf(root, resolved, entryName));
    await resolved.release();
    // Listed after the swap it is a symlink entry (not followed); the host's files never appear.
    expect(entries.get('data/sub')).toMatchObject({ type: 'symlink', linkname: base });
    expect([...entries.values()].some((e) => e.body.includes('HOST SECRET'))).toBe(false);
  });
});

describe('a symlink swapped in while copying', () => {
  it('fails the open of a directory that became a symlink after it was checked', async () => {
    await symlink(base, join(rootDir, 'swapped'));
    await expect(root.openDir(root.root, 'swapped', '/swapped')).rejects.toThrow(/changed in the container during the copy/);
  });

  it('never reads the host while the container swaps a directory and a symlink to the host as fast as it can', async () => {
    await writeFile(join(base, 'b.txt'), 'HOST SECRET');
    const sub = join(rootDir, 'data', 'sub');
    let swapping = true;
    const swapper = (async () => {
      for (let i = 0; swapping && i < 20_000; i++) {
        await rm(sub, { recursive: true, force: true });
        if (i % 2) await symlink(base, sub);
        else await mkdir(sub).then(() => writeFile(join(sub, 'b.txt'), 'beta'));
      }
    })();
    try {
      for (let round = 0; round < 40; round++) {
        for (const path of ['/data', '/data/sub/b.txt']) {
          // Errors of node:fs come from another realm under jest: told apart by shape, not instanceof.
          const result = await tarOfPath(path).catch((error: Error) => ({ error }));
          if ('error' in result) expect(result.error.message).toMatch(/changed in the container|no such file|not a directory/);
          else expect([...result.entries.values()].some((e) => e.body.includes('HOST SECRET'))).toBe(false);
        }
      }
    } finally {
      swapping = false;
      await swapper;
    }
  });
});

describe('extracting into a container', () => {
  it('writes files, directories, symlinks and hard links with their modes and owners', async () => {
    const dest = await resolveDestination(root, '/data');
    const count = await extractInto(
      root,
      dest,
      tarBytes([
        { name: 'new', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
        { name: 'new/f', type: 'file', mode: 0o600, uid: 1000, gid: 1001, body: 'hello' },
        { name: 'new/l', type: 'symlink', linkname: '/etc/shadow' },
        { name: 'new/h', type: 'link', linkname: 'new/f' },
      ]),
      { noOverwriteDirNonDir: true },
    );
    expect(count).toBe(4);
    expect(await readFile(join(rootDir, 'data/new/f'), 'utf8')).toBe('hello');
    const f = await stat(join(rootDir, 'data/new/f'));
    expect([f.mode & 0o777, f.uid, f.gid, f.nlink]).toEqual([0o600, 1000, 1001, 2]);
    expect((await stat(join(rootDir, 'data/new'))).mode & 0o777).toBe(0o750);
    expect(await readlink(join(rootDir, 'data/new/l'))).toBe('/etc/shadow');
  });

  it('gives every entry the container user with copyUIDGID (docker cp -a)', async () => {
    await extractInto(root, '/data', tarBytes([{ name: 'owned', uid: 5, gid: 6, body: 'x' }]), { noOverwriteDirNonDir: true, owner: { uid: 42, gid: 43 } });
    const s = await stat(join(rootDir, 'data/owned'));
    expect([s.uid, s.gid]).toEqual([42, 43]);
  });

  it('refuses entries that climb out of the destination, writing nothing outside', async () => {
    expect(() => entryPath('../evil')).toThrow(/points outside the destination/);
    expect(() => entryPath('a/../../evil')).toThrow(/points outside the destination/);
    expect(entryPath('./a/./b/')).toBe('a/b');
    await expect(extractInto(root, '/data', tarBytes([{ name: '../../../evil', body: 'x' }]), { noOverwriteDirNonDir: true })).rejects.toThrow(/outside the destination/);
    await expect(extractInto(root, '/data', tarBytes([{ name: 'h', type: 'link', linkname: '../../../host-shadow' }]), { noOverwriteDirNonDir: true })).rejects.toThrow(/outside the destination/);
    await expect(lstat(join(base, 'evil'))).rejects.toThrow(/ENOENT/);
  });

  it('writes through a symlink planted in the container only inside the root', async () => {
    const outside = join(base, 'outside');
    await mkdir(outside);
    // An absolute link to a host directory; the container made it, and the next entry goes through it.
    await symlink(outside, join(rootDir, 'data', 'door'));
    await expect(extractInto(root, '/data', tarBytes([{ name: 'door/x', body: 'pwned' }]), { noOverwriteDirNonDir: true })).rejects.toThrow(/no such file or directory in the container/);
    await mkdir(join(rootDir, outside), { recursive: true });
    await extractInto(root, '/data', tarBytes([{ name: 'door/x', body: 'inside' }]), { noOverwriteDirNonDir: true });
    await expect(lstat(join(outside, 'x'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(rootDir, outside, 'x'), 'utf8')).toBe('inside');
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    await symlink(hostSecret, join(rootDir, 'data', 'victim'));
    await extractInto(root, '/data', tarBytes([{ name: 'victim', body: 'new content' }]), { noOverwriteDirNonDir: true });
    expect(await readFile(hostSecret, 'utf8')).toBe('HOST SECRET');
    expect(await readFile(join(rootDir, 'data', 'victim'), 'utf8')).toBe('new content');
  });

  it('keeps a directory from being overwritten by a file with noOverwriteDirNonDir', async () => {
    await expect(extractInto(root, '/data', tarBytes([{ name: 'sub', body: 'x' }]), { noOverwriteDirNonDir: true })).rejects.toThrow(/cannot overwrite directory \/data\/sub/);
  });

  it('refuses device nodes and kernel paths', async () => {
    await expect(extractInto(root, '/data', tarBytes([{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }]), { noOverwriteDirNonDir: true })).rejects.toThrow(/only files, directories and links/);
    await mkdir(join(rootDir, 'proc'));
    await expect(resolveDestination(root, '/proc')).rejects.toThrow(/kernel's/);
    await expect(resolveDestination(root, '/etc/shadow')).rejects.toThrow(/not a directory/);
    await expect(resolveDestination(root, '/nope')).rejects.toThrow(/no such directory/);
  });
});
