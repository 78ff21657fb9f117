import { linkSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerDiskUsage, treeBytes } from './disk-usage';

describe('container disk usage', () => {
  const root = mkdtempSync(join(tmpdir(), 'disk-usage-'));

  it('counts files, directories and symlinks by size, hard links once, and a missing dir as 0', async () => {
    const dir = join(root, 'upper');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'a'), Buffer.alloc(1000));
    writeFileSync(join(dir, 'sub', 'b'), Buffer.alloc(5000));
    linkSync(join(dir, 'sub', 'b'), join(dir, 'b-again'));
    symlinkSync('/etc/passwd', join(dir, 'link'));
    const subDir = (await lstat(join(dir, 'sub'))).size;
    expect(await treeBytes(dir)).toBe(1000 + 5000 + subDir + '/etc/passwd'.length);
    expect(await treeBytes(join(root, 'nothing-here'))).toBe(0);
    await expect(treeBytes(dir, 2)).rejects.toThrow(/more than 2 entries/);
  });

  it('adds the image layers to the writable layer for SizeRootFs', async () => {
    const upper = join(root, 'c1');
    mkdirSync(upper);
    writeFileSync(join(upper, 'new'), Buffer.alloc(300));
    for (const layer of ['l1', 'l2']) {
      mkdirSync(join(root, 'layers', layer), { recursive: true });
      writeFileSync(join(root, 'layers', layer, 'f'), Buffer.alloc(layer === 'l1' ? 10 : 20));
    }
    const usage = new ContainerDiskUsage((id) => join(root, 'layers', id));
    expect(await usage.measure(upper, ['l1', 'l2'])).toEqual({ sizeRw: 300, sizeRootFs: 330 });
  });
});
