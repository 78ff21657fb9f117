import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DataDirLockedError, lockDataDir } from './data-dir';

describe('lockDataDir', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'muelle-lock-'));

  it('refuses a directory held by a live process, naming its pid', () => {
    const d = dir();
    writeFileSync(join(d, 'muelle.lock'), `${process.ppid}\n`);
    expect(() => lockDataDir(d)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(d)).toThrow(new RegExp(`pid ${process.ppid}`));
  });

  it('takes over a stale lock whose process is gone', () => {
    const d = dir();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(d, 'muelle.lock'), `${dead}\n`);
    const lock = lockDataDir(d);
    expect(readFileSync(join(d, 'muelle.lock'), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(existsSync(join(d, 'muelle.lock'))).toBe(false);
  });

  it('creates the directory and releases cleanly', () => {
    const d = join(dir(), 'nested', 'data');
    const lock = lockDataDir(d);
    expect(existsSync(join(d, 'muelle.lock'))).toBe(true);
    lock.release();
    expect(() => lockDataDir(d).release()).not.toThrow();
  });
});
