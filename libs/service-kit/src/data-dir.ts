import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(`data directory ${dataDir} is in use by another Muelle process (pid ${holderPid}); stop it first or use another MUELLE_DATA_DIR`);
  }
}

/**
 * One process per data directory: the embedded database and blob store are not safe to share.
 * An exclusive-create lock file holds our pid; a lock whose pid is gone is stale and taken over.
 */
export function lockDataDir(dataDir: string): { release(): void } {
  const dir = resolve(dataDir);
  secureDataDir(dir);
  const lockPath = join(dir, 'muelle.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        release() {
          try {
            if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) throw new DataDirLockedError(dir, holder);
      unlinkSync(lockPath); // stale: its process is gone
    }
  }
  throw new Error(`could not lock ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
