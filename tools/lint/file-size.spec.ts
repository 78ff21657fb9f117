import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// A file that passes ~400 lines usually holds several concerns that change for different reasons;
// split it, or say in its first lines why it stays whole (`// size: data, one entry per route`).
const root = join(__dirname, '..', '..');
const MAX_LINES = 400;
/** How far down the reason may stand (after a license line or a file comment). */
const REASON_WITHIN_LINES = 5;

const isProduction = (path: string) => /\.tsx?$/.test(path) && !/\.(spec|int-spec|e2e-spec)\.tsx?$/.test(path) && !/(^|\/)(test|testing)\//.test(path) && !/spec-helper/.test(path);

/** Production .ts/.tsx files under apps/<app>/src and libs/<lib>/src. */
function sources(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      if (entry === 'node_modules') return [];
      if (statSync(path).isDirectory()) return walk(path);
      return isProduction(relative(root, path)) ? [path] : [];
    });
  return ['apps', 'libs'].flatMap((top) =>
    readdirSync(join(root, top))
      .map((name) => join(root, top, name, 'src'))
      .filter((src) => statSync(src, { throwIfNoEntry: false })?.isDirectory())
      .flatMap(walk),
  );
}

export function oversized(text: string): boolean {
  const lines = text.split('\n');
  const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
  return count > MAX_LINES && !lines.slice(0, REASON_WITHIN_LINES).some((line) => /^\s*\/\/\s*size:\s*\S/.test(line));
}

describe(`production files stay under ${MAX_LINES} lines or say why`, () => {
  it('counts lines and accepts a `// size:` reason near the top only', () => {
    const long = (head: string[]) => [...head, ...Array.from({ length: MAX_LINES }, (_, i) => `const v${i} = ${i};`)].join('\n') + '\n';
    expect(oversized(long([]))).toBe(false);
    expect(oversized(long(['const extra = 1;']))).toBe(true);
    expect(oversized(long(['// size: data, one entry per route']))).toBe(false);
    expect(oversized(long(['// size:']))).toBe(true);
    expect(oversized(long(Array.from({ length: REASON_WITHIN_LINES }, () => '// header').concat('// size: too far down')))).toBe(true);
  });

  it('holds for apps/*/src and libs/*/src', () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(100);
    const found = files.filter((file) => oversized(readFileSync(file, 'utf8'))).map((file) => relative(root, file));
    expect(found).toEqual([]);
  });
});
