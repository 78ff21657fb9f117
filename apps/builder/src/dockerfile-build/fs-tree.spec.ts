import * as fs from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTree, diffTrees, resolveInRoot } from './fs-tree';
import { SourceTree } from './context';
import { BuildFailedError } from './errors';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'muelle-fs-tree-'));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

async function tree(root: string, files: Record<string, string | { link: string }>) {
  for (const [name, value] of Object.entries(files)) {
    await fs.mkdir(join(root, name, '..'), { recursive: true });
    if (typeof value === 'string') await fs.writeFile(join(root, name), value);
    else await fs.symlink(value.link, join(root, name));
  }
}

/** What the executor does: a file's ctime after the copy, on the file system's own clock. */
async function marker(): Promise<bigint> {
  await fs.writeFile(join(dir, 'marker'), '');
  const stat = await fs.stat(join(dir, 'marker'), { bigint: true });
  await fs.rm(join(dir, 'marker'));
  return stat.ctimeNs;
}

describe('resolveInRoot', () => {
  it('follows absolute and relative symlinks inside the root and clamps ..', async () => {
    await tree(dir, { 'usr/lib/x': 'x', lib: { link: '/usr/lib' }, 'a/up': { link: '../../../../' } });
    expect(await resolveInRoot(dir, '/lib/x')).toBe(join(dir, 'usr/lib/x'));
    expect(await resolveInRoot(dir, '/a/up/usr')).toBe(join(dir, 'usr'));
    expect(await resolveInRoot(dir, '/../../etc')).toBe(join(dir, 'etc'));
    expect(await resolveInRoot(dir, '/lib', false)).toBe(join(dir, 'lib'));
  });
});

describe('diffTrees', () => {
  it('emits new and changed entries with parents, and whiteouts for deletions', async () => {
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    await tree(lower, { 'etc/keep': 'k', 'etc/gone': 'g', 'etc/change': 'old', 'old-dir/f': 'f', 'same/f': 's' });
    await fs.mkdir(upper);
    await copyTree(lower, upper);
    await new Promise((r) => setTimeout(r, 30));
    const since = await marker();
    await fs.rm(join(upper, 'etc/gone'));
    await fs.rm(join(upper, 'old-dir'), { recursive: true });
    await fs.writeFile(join(upper, 'etc/change'), 'new');
    await tree(upper, { 'new/deep/file': 'n' });

    const entries = await diffTrees(lower, upper, { changedSinceNs: since });
    const paths = entries.map((e) => `${e.type}:${e.path}`).sort();
    expect(paths).toEqual(
      ['directory:etc', 'file:etc/.wh.gone', 'file:etc/change', 'directory:new', 'directory:new/deep', 'file:new/deep/file', 'file:.wh.old-dir'].sort(),
    );
  });

  it('catches a content change that kept size and mtime (ctime)', async () => {
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    await tree(lower, { f: 'aaaa' });
    await fs.mkdir(upper);
    await copyTree(lower, upper);
    const before = await fs.stat(join(upper, 'f'));
    await new Promise((r) => setTimeout(r, 30));
    const since = await marker();
    await fs.writeFile(join(upper, 'f'), 'bbbb');
    await fs.utimes(join(upper, 'f'), before.atime, before.mtime);
    expect((await diffTrees(lower, upper, { changedSinceNs: since })).map((e) => e.path)).toEqual(['f']);
  });
});

describe('SourceTree (build context)', () => {
  it('applies .dockerignore, expands wildcards and refuses escapes', async () => {
    await tree(dir, { '.dockerignore': '*.log\n', 'a.txt': 'a', 'b.txt': 'b', 'c.log': 'c', out: { link: '/etc' }, rel: { link: '../..' } });
    const context = await SourceTree.context(dir);
    expect((await context.match('*.txt')).map((m) => m.name)).toEqual(['a.txt', 'b.txt']);
    await expect(context.match('c.log', 3)).rejects.toMatchObject({ failure: { kind: 'missing-source', line: 3 } });
    await expect(context.match('../x', 4)).rejects.toMatchObject({ failure: { kind: 'context-escape', line: 4 } });
    await expect(context.match('out/passwd')).rejects.toBeInstanceOf(BuildFailedError);
    await expect(context.match('rel/etc')).rejects.toMatchObject({ failure: { kind: 'context-escape' } });
  });
});

describe('copyTree', () => {
  it('keeps hard links even when the second name is reached before the first copy finished', async () => {
    // Siblings are copied concurrently; the link used to be attempted before its target existed
    // (ENOENT), as with an unpacked `ADD archive.tar` holding a hard link.
    const src = join(dir, 'src');
    await fs.mkdir(src);
    for (let i = 0; i < 200; i++) {
      await fs.writeFile(join(src, `file-${i}`), `content ${i}\n`);
      await fs.link(join(src, `file-${i}`), join(src, `alias-${i}`));
    }
    await copyTree(src, join(dir, 'dst'));
    for (let i = 0; i < 200; i++) {
      const [file, alias] = await Promise.all([fs.stat(join(dir, 'dst', `file-${i}`)), fs.stat(join(dir, 'dst', `alias-${i}`))]);
      expect([alias.ino, alias.nlink]).toEqual([file.ino, 2]);
    }
  });
});
