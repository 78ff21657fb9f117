// Runs after `npm ci`/`npm install`: builds the tiny native isolation helper from source (no download).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const makefile = join(root, 'libs', 'isolation', 'native', 'Makefile');
if (existsSync(makefile)) {
  const r = spawnSync('make', ['-C', dirname(makefile)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('muelle: building the isolation helper failed (needs cc, make, pkg-config and libseccomp-dev)');
    process.exit(r.status ?? 1);
  }
}
