import { DockerignoreError } from './errors';
import { trimSpace } from './text';

/**
 * `.dockerignore` with Docker's rules (moby/patternmatcher + ignorefile), which are NOT gitignore's:
 * patterns are anchored at the context root, `*`/`?` stay within one path segment, `**` spans any
 * number of directories, a pattern that matches a directory excludes everything below it, and
 * `!pattern` exceptions are applied in order, the last matching line winning.
 */

export interface DockerignorePattern {
  /** Cleaned pattern, without the `!`. */
  pattern: string;
  /** A `!` line: re-includes what it matches. */
  exception: boolean;
  /** 1-based line in the file (0 for patterns given as a list). */
  line: number;
}

export interface DockerignoreMatcher {
  readonly patterns: readonly DockerignorePattern[];
  /** Whether any `!` line exists (then excluded directories may still hold included files). */
  readonly hasExceptions: boolean;
  /** Whether a context path (relative, `/`-separated) is left out of the build context. */
  isExcluded(relativePath: string): boolean;
  /**
   * Whether a context walker must enter this directory: false only when the directory is excluded
   * and no exception could re-include anything below it.
   */
  shouldDescend(relativeDirPath: string): boolean;
}

/** Go's `path.Clean`. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = (rooted ? '/' : '') + out.join('/');
  return joined === '' ? (rooted ? '/' : '.') : joined;
}

/** Reads a `.dockerignore` file into patterns (comments at column 1, trimming, cleaning, leading `/` dropped). */
export function readDockerignorePatterns(text: string): DockerignorePattern[] {
  const patterns: DockerignorePattern[] = [];
  const lines = (text.startsWith('\ufeff') ? text.slice(1) : text).split('\n');
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.startsWith('#')) return;
    const entry = normalizeEntry(line, lineNumber);
    if (entry) patterns.push(entry);
  });
  return patterns;
}

function normalizeEntry(text: string, line: number): DockerignorePattern | undefined {
  let pattern = trimSpace(text);
  if (pattern === '') return undefined;
  const exception = pattern.startsWith('!');
  if (exception) {
    pattern = trimSpace(pattern.slice(1));
    if (pattern === '') throw new DockerignoreError('illegal exclusion pattern', text.trim(), line);
  }
  pattern = cleanPath(pattern);
  if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
  validatePattern(pattern, line, text.trim());
  return { pattern, exception, line };
}

/** Rejects what Go's filepath.Match rejects: an unterminated `[...]`, an empty class, a trailing `\`. */
function validatePattern(pattern: string, line: number, original: string): void {
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\') {
      if (i + 1 >= chars.length) throw new DockerignoreError('syntax error in pattern (trailing escape)', original, line);
      i++;
    } else if (chars[i] === '[') {
      let j = i + 1;
      if (chars[j] === '^') j++;
      const firstMember = j;
      while (j < chars.length && (chars[j] !== ']' || j === firstMember)) {
        if (chars[j] === '\\') j++;
        j++;
      }
      if (j >= chars.length) throw new DockerignoreError('syntax error in pattern (unterminated [)', original, line);
      i = j;
    }
  }
}

type Compiled =
  | { type: 'exact'; text: string }
  | { type: 'prefix'; prefix: string }
  | { type: 'suffix'; suffix: string }
  | { type: 'regexp'; regexp: RegExp };

function escapeLiteral(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? '\\' + ch : ch;
}

/** Pattern → matcher, with the exact/prefix/suffix shortcuts of patternmatcher (they affect results). */
function compile(pattern: string): Compiled {
  const chars = Array.from(pattern);
  let source = '^';
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let inClass = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (inClass) {
      if (ch === ']') inClass = false;
      if (ch === '\\' && i + 1 < chars.length) {
        const escaped = chars[++i];
        source += escaped === '-' ? '\\-' : escapeLiteral(escaped);
      } else source += ch === '[' ? '\\[' : ch;
      continue;
    }
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        const atStart = i === 0;
        i++;
        if (chars[i + 1] === '/') i++;
        if (i + 1 >= chars.length) {
          // Trailing `**` matches everything below.
          if (kind === 'exact') kind = 'prefix';
          else {
            source += '[^]*';
            kind = 'regexp';
          }
        } else {
          source += '(?:[^]*/)?';
          kind = 'regexp';
        }
        // A leading `**` starts as a suffix match; a later wildcard turns it into a regexp (as upstream).
        if (atStart) kind = 'suffix';
        continue;
      }
      source += '[^/]*';
      kind = 'regexp';
    } else if (ch === '?') {
      source += '[^/]';
      kind = 'regexp';
    } else if (ch === '\\') {
      if (i + 1 < chars.length) {
        source += escapeLiteral(chars[++i]);
        kind = 'regexp';
      } else {
        source += '\\\\';
      }
    } else if (ch === '[') {
      inClass = true;
      source += '[';
      kind = 'regexp';
      if (chars[i + 1] === '^') {
        source += '^';
        i++;
      }
    } else {
      source += escapeLiteral(ch);
    }
  }
  switch (kind) {
    case 'exact':
      return { type: 'exact', text: pattern };
    case 'prefix':
      return { type: 'prefix', prefix: pattern.slice(0, -2) };
    case 'suffix':
      return { type: 'suffix', suffix: pattern.slice(2) };
    default:
      return { type: 'regexp', regexp: new RegExp(source + '$', 'u') };
  }
}

function matches(compiled: Compiled, path: string): boolean {
  switch (compiled.type) {
    case 'exact':
      return path === compiled.text;
    case 'prefix':
      return path.startsWith(compiled.prefix);
    case 'suffix':
      // `**/foo` also matches a top-level `foo`.
      return path.endsWith(compiled.suffix) || (compiled.suffix.startsWith('/') && path === compiled.suffix.slice(1));
    case 'regexp':
      return compiled.regexp.test(path);
  }
}

/** One path segment of a pattern against one name, for the descend hint. */
function segmentMatches(segment: string, name: string): boolean {
  const compiled = compile(segment);
  return matches(compiled, name);
}

class PatternMatcher implements DockerignoreMatcher {
  readonly hasExceptions: boolean;
  private readonly compiled: Compiled[];

  constructor(readonly patterns: readonly DockerignorePattern[]) {
    this.hasExceptions = patterns.some((p) => p.exception);
    this.compiled = patterns.map((p) => {
      try {
        return compile(p.pattern);
      } catch {
        throw new DockerignoreError('syntax error in pattern', p.pattern, p.line);
      }
    });
  }

  isExcluded(relativePath: string): boolean {
    const path = normalizeContextPath(relativePath);
    if (path === '.') return false;
    const segments = path.split('/');
    const ancestors = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
    let excluded = false;
    this.patterns.forEach((pattern, index) => {
      // An exclusion can't change an excluded path, an exception can't change an included one.
      if (pattern.exception !== excluded) return;
      const compiled = this.compiled[index];
      const hit = matches(compiled, path) || ancestors.some((ancestor) => matches(compiled, ancestor));
      if (hit) excluded = !pattern.exception;
    });
    return excluded;
  }

  shouldDescend(relativeDirPath: string): boolean {
    if (!this.isExcluded(relativeDirPath)) return true;
    if (!this.hasExceptions) return false;
    const dirSegments = normalizeContextPath(relativeDirPath).split('/');
    return this.patterns.some((pattern) => pattern.exception && couldMatchBelow(pattern.pattern, dirSegments));
  }
}

/** Conservative: true unless the exception provably cannot match anything strictly below the directory. */
function couldMatchBelow(pattern: string, dirSegments: string[]): boolean {
  const patternSegments = pattern.split('/');
  for (let i = 0; i < dirSegments.length; i++) {
    if (i >= patternSegments.length) return false;
    const segment = patternSegments[i];
    if (segment.includes('**')) return true;
    if (!segmentMatches(segment, dirSegments[i])) return false;
  }
  return patternSegments.length > dirSegments.length;
}

function normalizeContextPath(path: string): string {
  const cleaned = cleanPath(path);
  return cleaned.startsWith('/') ? cleanPath(cleaned.slice(1)) : cleaned;
}

/** Parses `.dockerignore` text into a matcher. Throws `DockerignoreError` on an invalid line. */
export function parseDockerignore(text: string): DockerignoreMatcher {
  return new PatternMatcher(readDockerignorePatterns(text));
}

/** A matcher from pattern strings (e.g. `COPY --exclude` values), with the same rules. */
export function createIgnoreMatcher(patterns: readonly string[]): DockerignoreMatcher {
  const entries = patterns.flatMap((pattern) => normalizeEntry(pattern, 0) ?? []);
  return new PatternMatcher(entries);
}
