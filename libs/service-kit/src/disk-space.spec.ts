import { tmpdir } from 'node:os';
import { diskSpaceCheck, formatBytes, freeBytes } from './disk-space';

describe('diskSpaceCheck', () => {
  it('passes while enough is free and reports how much', async () => {
    await expect(diskSpaceCheck(tmpdir(), 0)()).resolves.toMatch(/^\d+(\.\d+)? (B|KiB|MiB|GiB|TiB) free$/);
  });

  it('fails below the threshold, naming the folder, what is free and the variable', async () => {
    const threshold = (await freeBytes(tmpdir())) + 1024 ** 4;
    await expect(diskSpaceCheck(tmpdir(), threshold)()).rejects.toThrow(new RegExp(`^low disk: .* free under ${tmpdir()}, below MUELLE_MIN_FREE_BYTES \\(.*\\)$`));
  });

  it('formats sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1610612736)).toBe('1.5 GiB');
  });
});
