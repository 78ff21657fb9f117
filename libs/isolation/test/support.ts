import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { helperPath } from '../src';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const NATIVE_DIR = join(REPO_ROOT, 'libs', 'isolation', 'native');
export const ROOTFS_SCRIPT = join(REPO_ROOT, 'tools', 'images', 'make-busybox-rootfs.sh');

/** Builds the helper if needed (make is incremental) and returns its path. */
export function ensureHelperBuilt(): string {
  execFileSync('make', ['-s', '-C', NATIVE_DIR], { stdio: 'inherit' });
  return helperPath();
}

/** A fresh busybox root filesystem in a temp dir (needs `apt-get install busybox-static`). */
export function makeBusyboxRootfs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'muelle-rootfs-'));
  execFileSync(ROOTFS_SCRIPT, [dir], { stdio: 'inherit' });
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export function collect(stream: Readable | null): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolvePromise(Buffer.concat(chunks).toString()));
    stream.on('error', reject);
  });
}

/** Resolves with everything read so far once `pattern` appears in the stream. */
export function waitForOutput(stream: Readable, pattern: RegExp | string, timeoutMs = 10000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got: ${JSON.stringify(seen)}`)), timeoutMs);
    const onData = (c: Buffer) => {
      seen += c.toString();
      if (typeof pattern === 'string' ? seen.includes(pattern) : pattern.test(seen)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolvePromise(seen);
      }
    };
    stream.on('data', onData);
  });
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
