// After `tsc`: bundles the `muelle` CLI into one file, dist/cli/muelle.js, which tools/bin/muelle.js
// runs. One file instead of ~270 modules, and the heavy ones (undici, ws, tar-stream) loaded only
// by the commands that need them, is what lets `muelle ps` answer in about 0.1 s.
import { build } from 'esbuild';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
await build({
  entryPoints: [join(root, 'apps', 'cli', 'src', 'main.ts')],
  outfile: join(root, 'dist', 'cli', 'muelle.js'),
  tsconfig: join(root, 'tsconfig.base.json'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Loaded from node_modules by the few commands that need them (dynamic import()), not parsed at
  // every start.
  external: ['undici', 'ws', 'tar-stream'],
  logLevel: 'warning',
});
