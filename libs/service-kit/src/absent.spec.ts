import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAbsent, unlessAbsent } from './absent';

describe('unlessAbsent', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'absent-'));
    await writeFile(join(dir, 'file'), 'text');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives the result when the file exists', async () => {
    expect(await unlessAbsent(readFile(join(dir, 'file'), 'utf8'), undefined)).toBe('text');
  });

  it('gives the fallback for a missing file or a missing directory on the way', async () => {
    expect(await unlessAbsent(readFile(join(dir, 'missing'), 'utf8'), 'none')).toBe('none');
    expect(await unlessAbsent(readFile(join(dir, 'file', 'below'), 'utf8'), 'none')).toBe('none');
  });

  it('lets every other failure through', async () => {
    await expect(unlessAbsent(readFile(dir, 'utf8'), 'none')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(unlessAbsent(Promise.reject(new Error('disk on fire')), 'none')).rejects.toThrow('disk on fire');
    expect(isAbsent(new Error('no code'))).toBe(false);
  });
});
