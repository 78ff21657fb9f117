import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

// ARCHITECTURE.md is the map people read first: every repository path it names must exist, and
// every top-level folder of an app's src/ must be on it (a new folder is added to its "Map").
const root = join(__dirname, '..', '..');
const text = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');

/** Repository paths in backticks (`apps/…`, `libs/…`, `tools/…`, `e2e/…`), patterns and placeholders left out. */
export function namedPaths(markdown: string): string[] {
  const paths = [...markdown.matchAll(/`((?:apps|libs|tools|e2e)\/[^`\s]*)`/g)].map((m) => m[1].replace(/\/$/, ''));
  return [...new Set(paths.filter((path) => !/[*<>{}]/.test(path)))];
}

function appSourceFolders(): string[] {
  return readdirSync(join(root, 'apps')).flatMap((app) => {
    const src = join(root, 'apps', app, 'src');
    if (!existsSync(src)) return [];
    return readdirSync(src)
      .filter((entry) => statSync(join(src, entry)).isDirectory())
      .map((entry) => `apps/${app}/src/${entry}`);
  });
}

describe("ARCHITECTURE.md's map matches the tree", () => {
  it('reads repository paths out of backticks, without patterns', () => {
    expect(namedPaths('see `apps/api/src/docker`, `libs/oci/` and `e2e/**/*.e2e-spec.ts`; not `/v1`')).toEqual(['apps/api/src/docker', 'libs/oci']);
  });

  it('names only paths that exist', () => {
    const named = namedPaths(text);
    expect(named.length).toBeGreaterThan(40);
    expect(named.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it("names every top-level folder of each app's src/", () => {
    const named = new Set(namedPaths(text));
    const folders = appSourceFolders();
    expect(folders.length).toBeGreaterThan(20);
    expect(folders.filter((folder) => !named.has(folder))).toEqual([]);
  });
});
