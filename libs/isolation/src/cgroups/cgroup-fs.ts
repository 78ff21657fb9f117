import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { CgroupError } from '../errors';
import { CGROUP_ID_PATTERN } from './cgroup-driver';

export function checkId(id: string): void {
  if (!CGROUP_ID_PATTERN.test(id)) throw new CgroupError(`invalid cgroup id "${id}"`);
}

/** A driver's parent directory: one or more `/`-separated names, nothing that walks out of the hierarchy. */
export function checkParent(parent: string): void {
  const parts = parent.split('/');
  if (!parts.length || parts.some((part) => !CGROUP_ID_PATTERN.test(part))) throw new CgroupError(`invalid cgroup parent "${parent}"`);
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

export async function writeValue(dir: string, file: string, value: string | number): Promise<void> {
  const path = join(dir, file);
  try {
    await fs.writeFile(path, String(value));
  } catch (err) {
    throw new CgroupError(`cannot write "${value}" to ${path}: ${(err as Error).message}`, path, err);
  }
}

/** Contents of a cgroup file, or null if it does not exist. */
export async function readText(dir: string, file: string): Promise<string | null> {
  try {
    return await fs.readFile(join(dir, file), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw new CgroupError(`cannot read ${join(dir, file)}: ${(err as Error).message}`, join(dir, file), err);
  }
}

export async function readNumber(dir: string, file: string): Promise<number | null> {
  const text = await readText(dir, file);
  if (text === null) return null;
  const trimmed = text.trim();
  return trimmed === 'max' ? null : Number(trimmed);
}

/** `key value` lines (cpu.stat, memory.stat, memory.events, memory.oom_control). */
export async function readKeyed(dir: string, file: string): Promise<Map<string, number>> {
  const text = (await readText(dir, file)) ?? '';
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) map.set(key, Number(value));
  }
  return map;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    // Absent (or not ours to see): callers treat both as missing.
    return false;
  }
}

/** Pids in a cgroup directory and all sub-cgroups. Missing directory → []. */
export async function collectPids(dir: string): Promise<number[]> {
  const procs = await readText(dir, 'cgroup.procs');
  if (procs === null) return [];
  const pids = procs.split('\n').filter(Boolean).map(Number);
  for (const child of await subdirs(dir)) pids.push(...(await collectPids(join(dir, child))));
  return pids;
}

export async function subdirs(dir: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already exited
    }
  }
}

/**
 * rmdir a cgroup and its sub-cgroups, deepest first; cgroupfs only allows rmdir (never rm -rf).
 * Retries EBUSY while the kernel finishes tearing down killed tasks.
 */
export async function removeCgroupDir(dir: string, timeoutMs = 5000): Promise<void> {
  for (const child of await subdirs(dir)) await removeCgroupDir(join(dir, child), timeoutMs);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      if (!isErrno(err, 'EBUSY') || Date.now() > deadline) {
        throw new CgroupError(`cannot remove ${dir}: ${(err as Error).message}`, dir, err);
      }
      await sleep(20);
    }
  }
}
