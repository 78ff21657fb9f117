import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(`data directory ${dataDir} is in use by another Muelle process (pid ${holderPid}); stop it first or use another MUELLE_DATA_DIR`);
  }
}

export interface DataDirLock {
  /** True when the previous holder died without releasing (crash, kill -9, power cut): the caller must clean up after it. */
  readonly tookOverStale: boolean;
  release(): void;
}

/** A takeover that takes longer than this was cut by a crash itself. */
const TAKEOVER_MUTEX_STALE_MS = 10_000;

/**
 * One process per data directory: the embedded database and blob store are not safe to share.
 * `muelle.lock` holds `pid boot-id start-time` of its owner: after a reboot or pid reuse the pid
 * may name a live stranger, so a lock counts as held only when boot and start time still match.
 * Taking over a stale lock happens under a short-lived exclusive mutex (`muelle.lock.takeover`),
 * so two processes starting together after a crash never both win.
 */
export function lockDataDir(dataDir: string, options: { name?: string; conflictsWith?: string[] } = {}): DataDirLock {
  const dir = resolve(dataDir);
  secureDataDir(dir);
  const lockPath = join(dir, `${options.name ?? 'muelle'}.lock`);
  const identity = processIdentity(process.pid);
  let tookOverStale = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(lockPath, identity)) {
      for (const other of options.conflictsWith ?? []) {
        const holder = readHolder(join(dir, `${other}.lock`));
        if (holder && holder.pid !== process.pid && holderIsAlive(holder)) {
          unlinkIfPresent(lockPath);
          throw new DataDirLockedError(dir, holder.pid);
        }
      }
      return {
        tookOverStale,
        release() {
          try {
            if (readFileSync(lockPath, 'utf8').trim() === identity) unlinkSync(lockPath);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    }
    const holder = readHolder(lockPath);
    if (holder && holder.pid !== process.pid && holderIsAlive(holder)) throw new DataDirLockedError(dir, holder.pid);
    withTakeoverMutex(lockPath, () => {
      // Re-read under the mutex: another starter may have taken it over meanwhile.
      const current = readHolder(lockPath);
      if (current && current.pid !== process.pid && holderIsAlive(current)) throw new DataDirLockedError(dir, current.pid);
      unlinkIfPresent(lockPath);
      tookOverStale = true;
    });
  }
  throw new Error(`could not lock ${dir}`);
}

interface Holder {
  pid: number;
  bootId?: string;
  startTime?: string;
}

function createExclusive(path: string, content: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${content}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function readHolder(lockPath: string): Holder | undefined {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const [pidText, bootId, startTime] = text.split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  // An empty or garbled file is what a crash between create and write leaves: stale.
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, bootId, startTime };
}

function withTakeoverMutex(lockPath: string, action: () => void): void {
  const mutex = `${lockPath}.takeover`;
  for (let waited = 0; ; waited++) {
    try {
      mkdirSync(mutex);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (statSafe(mutex)?.mtimeMs ?? Date.now());
      if (age > TAKEOVER_MUTEX_STALE_MS) rmdirIfPresent(mutex);
      else if (waited > 200) throw new Error(`${mutex} is held for too long; remove it if no Muelle process is starting`);
      else sleepSync(10);
    }
  }
  try {
    action();
  } finally {
    rmdirIfPresent(mutex);
  }
}

/** `pid boot-id start-time`: unique across reboots and pid reuse (Linux); just the pid elsewhere. */
function processIdentity(pid: number): string {
  const bootId = readOptional('/proc/sys/kernel/random/boot_id');
  const startTime = startTimeOf(pid);
  return bootId && startTime ? `${pid} ${bootId} ${startTime}` : String(pid);
}

function holderIsAlive(holder: Holder): boolean {
  if (!isAlive(holder.pid)) return false;
  // Older locks (pid only) and non-Linux systems: the pid is all we can check.
  if (!holder.bootId || !holder.startTime) return true;
  const bootId = readOptional('/proc/sys/kernel/random/boot_id');
  if (bootId && bootId !== holder.bootId) return false;
  const startTime = startTimeOf(holder.pid);
  return startTime === undefined || startTime === holder.startTime;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may contain spaces). */
function startTimeOf(pid: number): string | undefined {
  const stat = readOptional(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    // Not Linux or the process is gone: the caller falls back.
    return undefined;
  }
}

function statSafe(path: string) {
  try {
    return statSync(path);
  } catch {
    // Removed between our mkdir and stat: treat as fresh.
    return undefined;
  }
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function rmdirIfPresent(path: string): void {
  try {
    rmdirSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Owner-only: image layers hold setuid binaries and device nodes no other local user may reach. */
export const DATA_DIR_MODE = 0o700;

/**
 * Creates the data folder owner-only, or tightens an existing one (an older install made it 0755).
 * Everything Muelle keeps lives below it, so this one mode closes the whole tree to other users.
 * Returns the mode it found, so the caller can say it changed it.
 */
export function secureDataDir(dataDir: string): { path: string; previousMode?: number } {
  const path = resolve(dataDir);
  let previousMode: number | undefined;
  try {
    previousMode = statSync(path).mode & 0o7777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(path, { recursive: true, mode: DATA_DIR_MODE });
  // mkdir's mode is masked by the umask and ignored for an existing folder: set it explicitly.
  chmodSync(path, DATA_DIR_MODE);
  return previousMode === undefined || previousMode === DATA_DIR_MODE ? { path } : { path, previousMode };
}
