#!/usr/bin/env node
// The `muelle` bin: runs the bundled CLI (dist/cli/muelle.js, made by `npm run build`), building the
// workspace first when it is missing (right after `npm ci`), so `npx muelle …` works without a
// separate build step. The bundle is loaded with V8's code cache (cli-loader.js).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..', '..');
const entry = join(root, 'dist', 'cli', 'muelle.js');
if (!existsSync(entry)) {
  process.stderr.write('muelle: building the CLI first (npm run build)…\n');
  const build = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0 || !existsSync(entry)) {
    process.stderr.write('muelle: the build failed; run "npm run build" to see why\n');
    process.exit(125);
  }
}
const { cli } = require('./cli-loader').loadCli(entry, `${entry}.cache`);
cli.runCli(process.argv.slice(2)).then(cli.exitAfterFlush);
