import { Injectable } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

export interface ConsoleFile {
  body: Buffer;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Where `npm run build` writes the console (apps/console/build.mjs), relative to the repository root. */
export const CONSOLE_DIST = join('dist', 'apps', 'console');

/**
 * The console's built files, read once at start (a few hundred KiB): the compiled api lives
 * under dist/apps/api and its sources under apps/api, so the folder is found by walking up to
 * the repository root. Null when the console was not built.
 */
@Injectable()
export class ConsoleFiles {
  private readonly files: Map<string, ConsoleFile> | null;

  constructor() {
    const root = findConsoleDir(__dirname);
    this.files = root ? readFlat(root) : null;
  }

  get built(): boolean {
    return this.files !== null;
  }

  /** A file by its name (the folder is flat; anything else is not a console file). */
  get(name: string): ConsoleFile | undefined {
    return this.files?.get(name);
  }
}

function findConsoleDir(from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, CONSOLE_DIST);
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

function readFlat(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (entry.isFile() && contentType) files.set(entry.name, { body: readFileSync(join(dir, entry.name)), contentType });
  }
  return files;
}
