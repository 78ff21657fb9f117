import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBindSource } from './bind-source';

describe('checkBindSource', () => {
  const root = mkdtempSync(join(tmpdir(), 'muelle-bind-'));
  const granted = join(root, 'srv');
  mkdirSync(join(granted, 'data'), { recursive: true });
  symlinkSync('/', join(granted, 'escape'));
  symlinkSync(join(granted, 'data'), join(root, 'alias'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lets a team mount a real path, with or without a trailing slash', async () => {
    await expect(checkBindSource(join(granted, 'data'), 'team-a')).resolves.toBeUndefined();
    await expect(checkBindSource(`${join(granted, 'data')}/`, 'team-a')).resolves.toBeUndefined();
  });

  it('refuses a team a path through a symlink (an escape from an allowed prefix)', async () => {
    await expect(checkBindSource(join(granted, 'escape'), 'team-a')).rejects.toThrow(/symbolic link \(to \/\)/);
    await expect(checkBindSource(join(granted, 'escape', 'etc'), 'team-a')).rejects.toThrow(/symbolic link/);
  });

  it('lets admins (no team) mount through symlinks, and refuses missing or relative paths to all', async () => {
    await expect(checkBindSource(join(root, 'alias'), null)).resolves.toBeUndefined();
    await expect(checkBindSource(join(root, 'missing'), null)).rejects.toThrow(/does not exist/);
    await expect(checkBindSource('relative/path', null)).rejects.toThrow(/absolute/);
  });
});
