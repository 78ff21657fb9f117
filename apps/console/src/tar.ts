// A build context made in the browser: a folder the user picked, packed as a POSIX ustar archive
// (what the api's /v1/builds takes). Regular files only, as `docker build` sends them.

export interface ContextFile {
  /** Relative path inside the context, `/`-separated. */
  path: string;
  bytes: Uint8Array;
  mode?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();

export function tarOf(files: ContextFile[], mtimeSeconds = Math.floor(Date.now() / 1000)): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  for (const file of files) {
    parts.push(header(file, mtimeSeconds), file.bytes, new Uint8Array(padding(file.bytes.length)));
  }
  parts.push(new Uint8Array(BLOCK * 2)); // two zero blocks end the archive
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Drops the folder's own name that browsers put first in `webkitRelativePath` (`ctx/Dockerfile` → `Dockerfile`). */
export const withinFolder = (relativePath: string) => relativePath.split('/').slice(1).join('/');

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

function header(file: ContextFile, mtime: number): Uint8Array {
  const path = file.path.replace(/^\/+/, '');
  const [prefix, name] = splitPath(path);
  const block = new Uint8Array(BLOCK);
  write(block, 0, 100, name);
  write(block, 100, 8, octal(file.mode ?? 0o644, 7));
  write(block, 108, 8, octal(0, 7));
  write(block, 116, 8, octal(0, 7));
  write(block, 124, 12, octal(file.bytes.length, 11));
  write(block, 136, 12, octal(mtime, 11));
  block.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  block[156] = 0x30; // '0': regular file
  write(block, 257, 6, 'ustar\0');
  write(block, 263, 2, '00');
  write(block, 345, 155, prefix);
  const sum = block.reduce((n, b) => n + b, 0);
  write(block, 148, 8, `${octal(sum, 6)}\0 `);
  return block;
}

/** ustar keeps long paths as prefix (≤155 bytes) + name (≤100 bytes), split at a slash. */
function splitPath(path: string): [string, string] {
  if (encoder.encode(path).length <= 100) return ['', path];
  for (let cut = path.indexOf('/'); cut > 0; cut = path.indexOf('/', cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) return [prefix, name];
  }
  throw new Error(`path too long for a build context: ${path}`);
}

const octal = (value: number, digits: number) => value.toString(8).padStart(digits, '0');

function write(block: Uint8Array, offset: number, length: number, text: string) {
  block.set(encoder.encode(text).subarray(0, length), offset);
}
