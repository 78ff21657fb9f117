import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, linkSync, chmodSync, utimesSync, type Stats } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CliError } from './errors';

/**
 * `muelle cp`'s local side: a tar of a local path whose top entry is named `topName` (how Docker's
 * CLI renames on copy), and the extraction of a tar from the server below a local directory.
 * tar-stream is loaded on first use, like the build context's.
 */
export async function packLocal(path: string, topName: string): Promise<Readable> {
  if (!existsSync(path)) throw new CliError(`lstat ${path}: no such file or directory`);
  const { default: tarStream } = await import('tar-stream');
  const pack = tarStream.pack();
  const links = new Map<string, string>();
  const add = async (full: string, name: string): Promise<void> => {
    const stat = lstatSync(full);
    const header = { name, mode: stat.mode & 0o7777, mtime: stat.mtime, uid: 0, gid: 0 };
    if (stat.isDirectory()) {
      await entry(pack, { ...header, type: 'directory' });
      for (const child of readdirSync(full).sort()) await add(join(full, child), name === '.' ? child : `${name}/${child}`);
    } else if (stat.isSymbolicLink()) {
      await entry(pack, { ...header, type: 'symlink', linkname: readlinkSync(full) });
    } else if (stat.isFile()) {
      const key = `${stat.dev}:${stat.ino}`;
      if (stat.nlink > 1 && links.has(key)) return entry(pack, { ...header, type: 'link', linkname: links.get(key) as string });
      links.set(key, name);
      await pipeline(createReadStream(full), pack.entry({ ...header, size: stat.size }) as unknown as NodeJS.WritableStream);
    }
    // Sockets, FIFOs and devices are not copied (Docker's CLI skips them too).
  };
  add(path, topName).then(
    () => pack.finalize(),
    (error: Error) => pack.destroy(error),
  );
  // tar-stream's streams are streamx ones: a Node Readable around them for fetch's body.
  return Readable.from(pack as unknown as AsyncIterable<Uint8Array>);
}

function entry(pack: { entry(header: object, callback: (error?: Error | null) => void): unknown }, header: object): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (error) => (error ? reject(error) : resolve())));
}

/**
 * Extracts `tar` below `dir`, the top entry renamed to `rename` when given (copying `c:/etc/hosts`
 * to `./h` writes `./h`). Entries that climb out (`..`, absolute) are refused, and nothing is
 * written through a symlink the archive itself made: a file never lands outside `dir`.
 */
export async function extractLocal(tar: AsyncIterable<Uint8Array>, dir: string, rename?: string): Promise<void> {
  const { default: tarStream } = await import('tar-stream');
  const extract = tarStream.extract();
  const feeding = (async () => {
    for await (const chunk of tar) if (!extract.write(chunk)) await new Promise<void>((resolve) => extract.once('drain', resolve));
    (extract as unknown as NodeJS.WritableStream).end();
  })().catch((error: Error) => extract.destroy(error));
  let top: string | undefined;
  for await (const item of extract) {
    const header = item.header;
    const parts = header.name.split('/').filter((p) => p && p !== '.');
    if (parts.includes('..') || header.name.startsWith('/')) throw new CliError(`the archive entry ${header.name} points outside ${dir}`);
    top ??= parts[0];
    if (rename && parts.length && parts[0] === top) parts[0] = rename;
    const target = parts.length ? join(dir, ...parts) : dir;
    checkNoSymlinkOnTheWay(dir, parts.slice(0, -1));
    const existing = lstatOrUndefined(target);
    if (existing && !(existing.isDirectory() && header.type === 'directory')) rmSync(target, { recursive: existing.isDirectory(), force: true });
    const mtime = header.mtime ?? new Date();
    if (header.type === 'directory') {
      if (!existing) mkdirSync(target, { mode: 0o755 });
      chmodSync(target, header.mode ?? 0o755);
    } else if (header.type === 'symlink') {
      symlinkSync(header.linkname ?? '', target);
    } else if (header.type === 'link') {
      const source = (header.linkname ?? '').split('/').filter((p) => p && p !== '.');
      if (source.includes('..')) throw new CliError(`the archive entry ${header.name} points outside ${dir}`);
      if (rename && source[0] === top) source[0] = rename;
      checkNoSymlinkOnTheWay(dir, source);
      linkSync(join(dir, ...source), target);
    } else if (header.type === 'file' || header.type === 'contiguous-file') {
      await pipeline(item, createWriteStream(target, { mode: header.mode ?? 0o644, flags: 'wx' }));
      chmodSync(target, header.mode ?? 0o644);
      utimesSync(target, mtime, mtime);
    }
    item.resume();
  }
  await feeding;
}

/** Every directory between `dir` and the entry must be a real directory, not a link the archive planted. */
function checkNoSymlinkOnTheWay(dir: string, parts: string[]): void {
  let current = dir;
  for (const part of parts) {
    current = join(current, part);
    const stat = lstatOrUndefined(current);
    if (stat?.isSymbolicLink()) throw new CliError(`the archive writes through the symbolic link ${current}: refused`);
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    // missing: the entry creates it
    return undefined;
  }
}

/** `a/b/` → `b`; `.` and `/` keep their meaning for the caller. */
export const lastComponent = (path: string) => basename(path.replace(new RegExp(`${sep === '/' ? '/' : '[\\\\/]'}+$`), '')) || path;
export const parentOf = (path: string) => dirname(path.replace(/\/+$/, '') || '/');
