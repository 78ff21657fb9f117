#!/usr/bin/env node
// Copies a docker-parity case's `context/` to a build directory and gives it the modes git cannot
// keep: files 0755 when executable in the checkout else 0644, directories 0755, then the case's
// `build.json` `modes` (path → octal) and `emptyDirs` (path → octal). Used by record.mjs and, as a
// command, by apps/builder/test/docker-parity.int-spec.ts, so Docker and Muelle see the same context.
//   node tools/docker-parity/prepare-context.mjs <case-dir> <dest-dir>
import { chmodSync, cpSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function normalizeModes(dir) {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) normalizeModes(path);
    else if (entry.isFile()) chmodSync(path, lstatSync(path).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** Returns the case's build options (`buildArgs`, `target`). */
export function prepareContext(caseDir, dest) {
  const spec = JSON.parse(readFileSync(join(caseDir, 'build.json'), 'utf8'));
  cpSync(join(caseDir, 'context'), dest, { recursive: true, verbatimSymlinks: true });
  normalizeModes(dest);
  for (const [path, mode] of Object.entries(spec.emptyDirs ?? {})) {
    mkdirSync(join(dest, path), { recursive: true });
    chmodSync(join(dest, path), parseInt(mode, 8));
  }
  for (const [path, mode] of Object.entries(spec.modes ?? {})) chmodSync(join(dest, path), parseInt(mode, 8));
  return { buildArgs: spec.buildArgs ?? {}, target: spec.target };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [caseDir, dest] = process.argv.slice(2);
  if (!caseDir || !dest) {
    console.error('usage: prepare-context.mjs <case-dir> <dest-dir>');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(prepareContext(caseDir, dest)) + '\n');
}
