import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createIgnoreMatcher, parseDockerignore, type DockerignoreMatcher } from '@muelle/dockerfile';
import { BuildFailedError } from './errors';
import { unlessAbsent, isAbsent } from '@muelle/service-kit';

/** One file-system object picked by a COPY/ADD source, with its path relative to the source root. */
export interface SourceItem {
  /** Host path (never a symlink that was followed: symlinks inside copied trees stay symlinks). */
  hostPath: string;
  /** Path below the matched source (`''` for the matched object itself). */
  relative: string;
  stat: import('node:fs').Stats;
}

export interface MatchedSource {
  /** The source as written, for messages. */
  pattern: string;
  /** The matched object's host path (symlinks in the named path followed) and what it contains. */
  hostPath: string;
  /** Base name of the path as matched (a symlink named as a source keeps its own name). */
  name: string;
  isDirectory: boolean;
  items: SourceItem[];
}

/**
 * A source tree files are copied from: the build context (with .dockerignore applied and
 * escapes refused) or another stage's / image's root file system (paths resolved in that root).
 */
export class SourceTree {
  private constructor(
    readonly root: string,
    private readonly ignore: DockerignoreMatcher | undefined,
    /** Context semantics: `..` above the root and symlinks leaving it are errors. */
    private readonly strict: boolean,
  ) {}

  static async context(root: string): Promise<SourceTree> {
    const real = await fs.realpath(root);
    const text = await unlessAbsent(fs.readFile(path.join(real, '.dockerignore'), 'utf8'), undefined);
    return new SourceTree(real, text === undefined ? undefined : parseDockerignore(text), true);
  }

  static filesystem(root: string): SourceTree {
    return new SourceTree(root, createIgnoreMatcher([]), false);
  }

  isExcluded(relative: string): boolean {
    return relative !== '' && this.ignore !== undefined && this.ignore.isExcluded(relative);
  }

  /** Reads a file of the context (the Dockerfile); undefined when missing. */
  async readFile(relative: string, line?: number): Promise<string | undefined> {
    const hostPath = await this.resolve(relative, line);
    return fs.readFile(hostPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
      // Missing, or a directory where the file should be: the caller reports it as not found.
      if (isAbsent(error) || error.code === 'EISDIR') return undefined;
      throw error;
    });
  }

  /** Cleans `source` against the root; in a context, climbing above it is an error. */
  private clean(source: string, line?: number): string[] {
    const parts: string[] = [];
    for (const part of source.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (parts.length === 0) {
          if (this.strict) throw BuildFailedError.of('context-escape', `Dockerfile:${line ?? '?'}: source "${source}" is outside the build context`, { line });
          continue;
        }
        parts.pop();
        continue;
      }
      parts.push(part);
    }
    return parts;
  }

  /** Host path of `relative`, following symlinks inside the tree; in a context, leaving it is an error. */
  async resolve(relative: string, line?: number): Promise<string> {
    let pending = this.clean(relative, line);
    const resolved: string[] = [];
    let follows = 0;
    while (pending.length > 0) {
      const component = pending.shift() as string;
      if (component === '..') {
        if (resolved.length === 0 && this.strict) throw this.escape(relative, line);
        resolved.pop();
        continue;
      }
      const hostPath = path.join(this.root, ...resolved, component);
      const stat = await unlessAbsent(fs.lstat(hostPath), undefined);
      if (stat?.isSymbolicLink()) {
        if (++follows > 40) throw BuildFailedError.of('missing-source', `too many symbolic links in "${relative}"`, { line });
        const link = await fs.readlink(hostPath);
        if (link.startsWith('/')) {
          if (this.strict) throw this.escape(relative, line);
          resolved.length = 0;
        }
        pending = [...link.split('/').filter((c) => c !== '' && c !== '.'), ...pending];
        continue;
      }
      resolved.push(component);
    }
    return path.join(this.root, ...resolved);
  }

  private escape(source: string, line?: number): BuildFailedError {
    return BuildFailedError.of('context-escape', `Dockerfile:${line ?? '?'}: source "${source}" leads outside the build context (through a symbolic link)`, { line });
  }

  /** Expands one COPY/ADD source (wildcards allowed) into what it matches; none is an error. */
  async match(source: string, line?: number): Promise<MatchedSource[]> {
    const parts = this.clean(source, line);
    const wildcard = parts.findIndex((p) => /[*?[]/.test(p));
    const candidates: string[] = wildcard === -1 ? [parts.join('/')] : await this.glob(parts, line);
    const results: MatchedSource[] = [];
    for (const relative of candidates) {
      if (this.isExcluded(relative)) continue;
      const hostPath = await this.resolve(relative, line);
      const stat = await unlessAbsent(fs.lstat(hostPath), undefined);
      if (!stat) continue;
      const items: SourceItem[] = [{ hostPath, relative: '', stat }];
      if (stat.isDirectory()) await this.walk(hostPath, relative, '', items);
      results.push({ pattern: source, hostPath, name: path.posix.basename(relative), isDirectory: stat.isDirectory(), items });
    }
    if (results.length === 0) {
      throw BuildFailedError.of('missing-source', `Dockerfile:${line ?? '?'}: COPY/ADD source "${source}" not found${this.strict ? ' in the build context' : ''}`, { line });
    }
    return results;
  }

  private async glob(parts: string[], line?: number): Promise<string[]> {
    let current = [''];
    for (const part of parts) {
      const next: string[] = [];
      const regex = new RegExp(`^${globToRegex(part)}$`);
      for (const dir of current) {
        if (!/[*?[]/.test(part)) {
          next.push(dir === '' ? part : `${dir}/${part}`);
          continue;
        }
        const hostDir = await this.resolve(dir, line);
        const names = await unlessAbsent(fs.readdir(hostDir), [] as string[]);
        for (const name of names.sort()) if (regex.test(name)) next.push(dir === '' ? name : `${dir}/${name}`);
      }
      current = next;
    }
    return current;
  }

  private async walk(hostDir: string, treeRelative: string, relative: string, into: SourceItem[]): Promise<void> {
    for (const name of (await fs.readdir(hostDir)).sort()) {
      const childTree = treeRelative === '' ? name : `${treeRelative}/${name}`;
      if (this.isExcluded(childTree) && !(await this.hasIncludedDescendant(childTree))) continue;
      const hostPath = path.join(hostDir, name);
      const stat = await fs.lstat(hostPath);
      const childRelative = relative === '' ? name : `${relative}/${name}`;
      if (!this.isExcluded(childTree) || stat.isDirectory()) into.push({ hostPath, relative: childRelative, stat });
      if (stat.isDirectory()) await this.walk(hostPath, childTree, childRelative, into);
    }
  }

  private async hasIncludedDescendant(relative: string): Promise<boolean> {
    return this.ignore !== undefined && this.ignore.hasExceptions && this.ignore.shouldDescend(relative);
  }
}

/** Docker's path.Match syntax for one component: `*`, `?`, `[...]`, `\` escapes. */
function globToRegex(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) out += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('^')) body = '!' + body.slice(1);
        out += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) out += escapeRegex(pattern[++i] as string);
    else out += escapeRegex(c);
  }
  return out;
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Content hash of matched sources for the cache key: per item its relative path, type, mode,
 * size, link target and bytes — never the mtime (a fresh checkout must still hit the cache).
 */
export async function hashSources(sources: MatchedSource[], includeOwners: boolean): Promise<string> {
  const hash = createHash('sha256');
  for (const source of sources) {
    hash.update(`source\0${source.pattern}\0${source.isDirectory}\0`);
    for (const item of source.items) {
      const { stat } = item;
      const type = stat.isDirectory() ? 'd' : stat.isSymbolicLink() ? 'l' : stat.isFile() ? 'f' : 'o';
      hash.update(`${item.relative}\0${type}\0${stat.mode & 0o7777}\0${includeOwners ? `${stat.uid}:${stat.gid}` : ''}\0`);
      if (type === 'l') hash.update(`${await fs.readlink(item.hostPath)}\0`);
      if (type === 'f') {
        hash.update(`${stat.size}\0`);
        for await (const chunk of createReadStream(item.hostPath)) hash.update(chunk as Buffer);
      }
    }
  }
  return hash.digest('hex');
}
