// After `tsc`, make `@muelle/<lib>` resolvable from dist/ by linking dist/node_modules/@muelle/<lib>
// to the compiled lib, so compiled apps need no runtime path-mapping hook.
import { mkdirSync, readdirSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scope = join(root, 'dist', 'node_modules', '@muelle');
mkdirSync(scope, { recursive: true });
for (const lib of readdirSync(join(root, 'libs'))) {
  const target = join(root, 'dist', 'libs', lib, 'src');
  if (!existsSync(target)) continue;
  const link = join(scope, lib);
  rmSync(link, { force: true, recursive: true });
  symlinkSync(join('..', '..', 'libs', lib, 'src'), link, 'dir');
}
// Only the all-in-one imports apps (`@muelle/app-<name>`), to host them in one process.
for (const app of readdirSync(join(root, 'apps'))) {
  const target = join(root, 'dist', 'apps', app, 'src');
  if (!existsSync(join(target, 'index.js'))) continue;
  const link = join(scope, `app-${app}`);
  rmSync(link, { force: true, recursive: true });
  symlinkSync(join('..', '..', 'apps', app, 'src'), link, 'dir');
}
