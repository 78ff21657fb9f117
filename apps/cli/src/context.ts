import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { CliError } from './errors';

/** `.dockerignore` lines as path prefixes (`node_modules`, `target/tmp`); `#` comments and `!` are not supported. */
function ignoredPrefixes(dir: string): string[] {
  const file = join(dir, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().replace(/^\/+|\/+$/g, ''))
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * The build context directory as a tar stream (regular files, directories, symlinks; modes kept).
 * tar-stream is loaded here, on first use, to keep it out of every other command's start-up.
 */
export async function packContext(dir: string): Promise<Readable> {
  if (!existsSync(dir) || !lstatSync(dir).isDirectory()) throw new CliError(`unable to prepare context: path "${dir}" not found`);
  const ignored = ignoredPrefixes(dir);
  const { default: tarStream } = await import('tar-stream');
  const pack = tarStream.pack();
  const entries: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current).sort()) {
      const full = join(current, name);
      const rel = relative(dir, full).split(sep).join('/');
      if (ignored.some((p) => rel === p || rel.startsWith(`${p}/`))) continue;
      entries.push(full);
      if (lstatSync(full).isDirectory()) walk(full);
    }
  };
  walk(dir);
  (async () => {
    for (const full of entries) {
      const stat = lstatSync(full);
      const name = relative(dir, full).split(sep).join('/');
      const header = { name, mode: stat.mode & 0o7777, mtime: stat.mtime };
      if (stat.isDirectory()) pack.entry({ ...header, type: 'directory' });
      else if (stat.isSymbolicLink()) pack.entry({ ...header, type: 'symlink', linkname: readlinkSync(full) });
      else if (stat.isFile()) {
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ ...header, size: stat.size }, (error) => (error ? reject(error) : resolve()));
          createReadStream(full).on('error', reject).pipe(entry);
        });
      }
    }
    pack.finalize();
  })().catch((error) => pack.destroy(error));
  // tar-stream packs are streamx streams: wrap for Node APIs (Readable.toWeb) that want a real Readable.
  return Readable.from(pack as unknown as AsyncIterable<Buffer>);
}
