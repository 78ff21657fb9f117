import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// An error dropped without a word hides the very faults operators need to see. In production code
// every `.catch(() => …)` and every `catch {` that does not rethrow either says, in a comment, which
// expected condition it handles (`// absent: nothing to remove`), or logs with context instead.
const root = join(__dirname, '..', '..');

const isProduction = (path: string) => /\.ts$/.test(path) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(path) && !/(^|\/)(test|testing)\//.test(path) && !/spec-helper/.test(path);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'dist' || entry === 'native') return [];
    if (statSync(path).isDirectory()) return sources(path);
    return isProduction(relative(root, path)) ? [path] : [];
  });
}

/** The text from `start` up to where the bracket opened at or after `start` closes. */
function balanced(text: string, start: number, open: string, close: string): string {
  const first = text.indexOf(open, start);
  let depth = 0;
  for (let i = first; i < text.length; i++) {
    if (text[i] === open) depth++;
    else if (text[i] === close && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

export interface Swallow {
  file: string;
  line: number;
  text: string;
}

/** Every `.catch(() => …)` and bare `catch {` that neither rethrows nor carries a comment. */
export function uncommentedSwallows(file: string, text: string): Swallow[] {
  const found: Swallow[] = [];
  const lines = text.split('\n');
  const lineStart = (index: number) => text.lastIndexOf('\n', index - 1) + 1;
  for (const match of text.matchAll(/\.catch\(\s*(\(\s*\)|_\w*|\(\s*_\w*\s*\))\s*=>|\bcatch\s*\{/g)) {
    const index = match.index;
    const body = match[0].startsWith('.') ? balanced(text, index, '(', ')') : balanced(text, index, '{', '}');
    const lineNumber = text.slice(0, index).split('\n').length;
    const before = lines[lineNumber - 2] ?? '';
    const commented = /\/\/|\/\*/.test(body) || /\/\/|\/\*/.test(text.slice(lineStart(index), index)) || /^\s*(\/\/|\*)/.test(before) || /\/\/.*$/.test(lines[lineNumber - 1]);
    if (commented || /\bthrow\b/.test(body)) continue;
    found.push({ file, line: lineNumber, text: lines[lineNumber - 1].trim() });
  }
  return found;
}

describe('errors are never swallowed silently', () => {
  it('finds uncommented swallows and lets commented, logged or rethrown ones pass', () => {
    const sample = [
      'await rm(path).catch(() => undefined);',
      'await rm(path).catch(() => undefined); // absent: nothing to remove',
      '// a stale rule may be gone already',
      'await drop().catch(() => undefined);',
      'await put().catch((error) => logger.warn({ err: error }, "put failed"));',
      'try { parse(); } catch {',
      '  return null;',
      '}',
      'try { parse(); } catch {',
      '  throw new InvalidArgumentError("bad");',
      '}',
      'try { parse(); } catch {',
      '  // not JSON: treated as text',
      '  return null;',
      '}',
      'void done.catch(() => {',
      '  count++;',
      '});',
    ].join('\n');
    expect(uncommentedSwallows('sample.ts', sample).map((s) => s.line)).toEqual([1, 6, 16]);
  });

  it('production code has none (comment the expected condition, log with context, or rethrow)', () => {
    const found = ['apps', 'libs'].flatMap((dir) => sources(join(root, dir))).flatMap((file) => uncommentedSwallows(relative(root, file), readFileSync(file, 'utf8')));
    const listing = found.map((s) => `${s.file}:${s.line}: ${s.text}`).join('\n');
    if (found.length > 0) throw new Error(`${found.length} uncommented swallows:\n${listing}`);
  });
});
