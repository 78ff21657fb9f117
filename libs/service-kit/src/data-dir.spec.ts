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
    expect(lock.tookOverStale).toBe(true);
    expect(readFileSync(join(d, 'muelle.lock'), 'utf8').split(' ')[0].trim()).toBe(String(process.pid));
    lock.release();
    expect(existsSync(join(d, 'muelle.lock'))).toBe(false);
  });

  it('takes over a lock whose pid now names another process (pid reuse after a reboot or crash)', () => {
    const d = dir();
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeFileSync(join(d, 'muelle.lock'), `${process.ppid} ${bootId} 1\n`);
    const lock = lockDataDir(d);
    expect(lock.tookOverStale).toBe(true);
    lock.release();
  });

  it('still refuses a live holder recorded with its boot and start time', () => {
    const d = dir();
    const first = lockDataDir(d);
    const holder = readFileSync(join(d, 'muelle.lock'), 'utf8').trim().split(' ');
    writeFileSync(join(d, 'muelle.lock'), `${process.ppid} ${holder[1]} ${readFileSync(`/proc/${process.ppid}/stat`, 'utf8').split(') ')[1].split(' ')[19]}\n`);
    expect(() => lockDataDir(d)).toThrow(DataDirLockedError);
    first.release(); // not ours any more: leaves the file alone
    expect(existsSync(join(d, 'muelle.lock'))).toBe(true);
  });

  it('takes over an empty lock file (a crash between create and write)', () => {
    const d = dir();
    writeFileSync(join(d, 'muelle.lock'), '');
    expect(lockDataDir(d).tookOverStale).toBe(true);
  });

  it('creates the directory and releases cleanly', () => {
    const d = join(dir(), 'nested', 'data');
    const lock = lockDataDir(d);
    expect(lock.tookOverStale).toBe(false);
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
