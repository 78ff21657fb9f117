import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// A runtime dependency that no production file imports is dead weight users install (and a
// supply-chain risk). Test-only packages belong in devDependencies.
const root = join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/**
 * Loaded by name at run time, never imported: `NestFactory.create` requires the HTTP adapter
 * itself, and TypeORM requires `pg` as its PostgreSQL driver.
 */
const LOADED_BY_NAME = new Set(['@nestjs/platform-express', 'pg']);

const isTestFile = (path: string) => /\.(spec|int-spec|e2e-spec)\.ts$/.test(path) || /(^|\/)(test|testing)\//.test(path);

function sources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...sources(path));
    else if (/\.(ts|tsx|mjs|js)$/.test(entry) && !isTestFile(relative(root, path))) found.push(path);
  }
  return found;
}

const productionText = ['apps', 'libs', join('tools', 'bin'), join('tools', 'scripts')]
  .flatMap((dir) => sources(join(root, dir)))
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

function imported(name: string): boolean {
  const quoted = `['"]${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(/[^'"]*)?['"]`;
  return new RegExp(`(from\\s+${quoted}|import\\s+${quoted}|require\\(\\s*${quoted}|import\\(\\s*${quoted})`).test(productionText);
}

describe('runtime dependencies', () => {
  it.each(Object.keys(manifest.dependencies).filter((name) => !LOADED_BY_NAME.has(name)))('%s is imported by production code', (name) => {
    expect(imported(name)).toBe(true);
  });
});
