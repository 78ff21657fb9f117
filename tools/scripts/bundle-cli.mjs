// After `tsc`: bundles the `muelle` CLI into one file, dist/cli/muelle.js, which tools/bin/muelle.js
// runs. One file instead of ~270 modules, and the heavy ones (ws, tar-stream, yaml) loaded only
// by the commands that need them, is what lets `muelle ps` answer in about 0.1 s. Then it writes
// V8's code cache for it, dist/cli/muelle.js.cache, which tools/bin/cli-loader.js loads it with.
//   node tools/scripts/bundle-cli.mjs [--out DIR]   (DIR also gets meta.json: what went in)
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * commander requires node:child_process at load for executable subcommands, which muelle has none
 * of; compiling it costs every start ~10 ms. Inside commander it is replaced by a stand-in that
 * loads the real module on first use.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "let real; module.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });",
      loader: 'js',
    }));
  },
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex > 0 ? process.argv[outIndex + 1] : join(root, 'dist', 'cli');
const result = await build({
  entryPoints: [join(root, 'apps', 'cli', 'src', 'main.ts')],
  outfile: join(outDir, 'muelle.js'),
  tsconfig: join(root, 'tsconfig.base.json'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Loaded from node_modules by the few commands that need them (dynamic import()), not parsed at
  // every start.
  external: ['ws', 'tar-stream', 'yaml'],
  // ...through require, not import(): the bin runs the bundle as a vm.Script with a code cache
  // (tools/bin/cli-loader.js), where import() has no loader. All three are CommonJS packages.
  supported: { 'dynamic-import': false },
  plugins: [lazyChildProcess],
  metafile: outIndex > 0,
  logLevel: 'warning',
});
if (result.metafile) writeFileSync(join(outDir, 'meta.json'), JSON.stringify(result.metafile));

// The code cache, made in a plain `node` (the bin's V8 flags) after `muelle --help` ran, so the
// functions that building the command tree and parsing compiled are in it, not only the top level.
const makeCache = `
const { loadCli } = require(${JSON.stringify(join(root, 'tools', 'bin', 'cli-loader.js'))});
const { Writable } = require('node:stream');
const entry = process.argv[1];
const { cli, script } = loadCli(entry, '', { useCache: false });
const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
cli.runCli(['--help'], { out: sink, err: sink }).then(() => require('node:fs').writeFileSync(entry + '.cache', script.createCachedData()));
`;
execFileSync(process.execPath, ['-e', makeCache, join(outDir, 'muelle.js')], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } });
