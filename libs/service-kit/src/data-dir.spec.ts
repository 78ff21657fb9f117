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
