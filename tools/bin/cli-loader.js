// Loads the bundled CLI (dist/cli/muelle.js) with V8's code cache (dist/cli/muelle.js.cache, written
// by tools/scripts/bundle-cli.mjs after a run of the CLI compiled its functions): about a quarter of
// the CLI's own start-up is compiling its JavaScript, which the cache skips. A cache that does not
// fit (another Node or V8 flags, a rebuilt bundle: V8 checks the source hash) is rejected by V8 and
// the bundle compiles as usual, so a stale or missing cache costs only its read.
'use strict';
const { readFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

/**
 * The bundle as a CommonJS module compiled through vm.Script (Node 20's require cannot take a code
 * cache). `script` is there for createCachedData(); `cached` says whether V8 took the cache.
 */
function loadCli(entry, cacheFile, { useCache = true } = {}) {
  // Wrapped on its first line, so stack traces keep the bundle's line numbers; the shebang becomes
  // a comment inside the wrapper.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(entry, 'utf8').replace(/^#!/, '//')}\n})`;
  let cachedData;
  if (useCache) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch (error) {
      // No cache (a build from before it existed, or a read-only copy without it): compile as usual.
      if (error.code !== 'ENOENT') throw error;
    }
  }
  // The bundle holds no import() (bundle-cli.mjs turns them into require): a script compiled from a
  // code cache loses its dynamic-import callback in Node 20, and the callback that would serve it
  // (vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER) prints an ExperimentalWarning.
  const script = new Script(source, { filename: entry, cachedData });
  const module = { exports: {}, filename: entry, id: entry };
  script.runInThisContext()(module.exports, createRequire(entry), module, entry, dirname(entry));
  return { cli: module.exports, script, cached: cachedData !== undefined && !script.cachedDataRejected };
}

module.exports = { loadCli };
