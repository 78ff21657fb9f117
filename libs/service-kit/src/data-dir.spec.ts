import { chmodSync, mkdirSync, mkdtempSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DataDirLockedError, lockDataDir, secureDataDir } from './data-dir';

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

describe('secureDataDir', () => {
  const parent = () => {
    const d = mkdtempSync(join(tmpdir(), 'muelle-mode-'));
    chmodSync(d, 0o755); // as /var/lib is: other users may traverse it
    return d;
  };
  const modeOf = (path: string) => statSync(path).mode & 0o7777;

  it('creates the data folder owner-only whatever the umask', () => {
    const d = join(parent(), 'data');
    const previous = process.umask(0o000);
    try {
      expect(secureDataDir(d)).toEqual({ path: d });
    } finally {
      process.umask(previous);
    }
    expect(modeOf(d)).toBe(0o700);
  });

  it('tightens an existing folder and says what it was', () => {
    const d = join(parent(), 'data');
    mkdirSync(d, { mode: 0o755 });
    chmodSync(d, 0o755);
    expect(secureDataDir(d)).toEqual({ path: d, previousMode: 0o755 });
    expect(modeOf(d)).toBe(0o700);
    expect(secureDataDir(d)).toEqual({ path: d });
  });

  it('locking a data folder secures it too', () => {
    const d = join(parent(), 'data');
    mkdirSync(d, { mode: 0o777 });
    chmodSync(d, 0o777);
    lockDataDir(d).release();
    expect(modeOf(d)).toBe(0o700);
  });

  // What the mode is for: a setuid binary in a layer is out of reach of another local user.
  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  asRoot('keeps a local unprivileged user away from what is inside', () => {
    const d = join(parent(), 'data');
    mkdirSync(join(d, 'layers', 'l1', 'bin'), { recursive: true, mode: 0o755 });
    writeFileSync(join(d, 'layers', 'l1', 'bin', 'su'), '#!/bin/sh\n', { mode: 0o4755 });
    chmodSync(d, 0o755);
    const nobodyRuns = () => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-x', join(d, 'layers', 'l1', 'bin', 'su')]).status;
    expect(nobodyRuns()).toBe(0); // reachable before: the test itself can fail
    secureDataDir(d);
    expect(nobodyRuns()).toBe(1);
  });
});
