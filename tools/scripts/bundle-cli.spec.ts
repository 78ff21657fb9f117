import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The CLI starts in ~0.1 s only while its bundle leaves out the contracts' zod schemas and the
// modules a few commands load on demand; an eager import of either would double every command's
// start-up (tools/bench/cli measures it).
describe('the bundled muelle CLI', () => {
  const out = mkdtempSync(join(tmpdir(), 'cli-bundle-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('holds no zod, undici, ws, tar-stream or yaml, and no more than a few hundred KB', () => {
    execFileSync(process.execPath, [join(__dirname, 'bundle-cli.mjs'), '--out', out]);
    const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
    const inputs = Object.keys(meta.inputs);
    for (const heavy of ['zod', 'undici', 'ws', 'tar-stream', 'yaml']) {
      expect(inputs.filter((path) => path.includes(`node_modules/${heavy}/`))).toEqual([]);
    }
    // A lib's index pulls in all of it: the CLI imports the zod-free files it needs by path.
    expect(inputs.filter((path) => /^libs\/[^/]+\/src\/index\.ts$/.test(path))).toEqual([]);
    const bytes = Object.values(meta.outputs as Record<string, { bytes: number }>)[0].bytes;
    expect(bytes).toBeLessThan(400_000);
  });

  /** Runs a `muelle` bundle through the bin's loader in a plain node; prints what the script logs. */
  const load = (entry: string, script: string) =>
    execFileSync(process.execPath, ['-e', `const { cli, cached } = require(${JSON.stringify(join(__dirname, '..', 'bin', 'cli-loader.js'))}).loadCli(${JSON.stringify(entry)}, ${JSON.stringify(`${entry}.cache`)});\n${script}`], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });

  it('comes with a V8 code cache the loader uses, and that loading compiles no https, tls or child_process', () => {
    const report = JSON.parse(load(join(out, 'muelle.js'), `console.log(JSON.stringify({ cached, run: typeof cli.runCli, modules: process.moduleLoadList }))`));
    expect(report).toMatchObject({ cached: true, run: 'function' });
    expect(report.modules.filter((m: string) => /^NativeModule (https|tls|_tls_wrap|child_process)$/.test(m))).toEqual([]);
  });

  it('still runs a bundle whose cache does not fit it (V8 rejects the cache)', () => {
    const other = mkdtempSync(join(tmpdir(), 'cli-stale-'));
    try {
      copyFileSync(join(out, 'muelle.js'), join(other, 'muelle.js'));
      copyFileSync(join(out, 'muelle.js.cache'), join(other, 'muelle.js.cache'));
      appendFileSync(join(other, 'muelle.js'), '\n// rebuilt\n');
      const printed = load(join(other, 'muelle.js'), `cli.runCli(['--help']).then((code) => console.log(JSON.stringify({ cached, code })))`);
      expect(printed).toContain('Muelle: run containers across your hosts');
      expect(JSON.parse(printed.trim().split('\n').pop() as string)).toEqual({ cached: false, code: 0 });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  // The bin runs the bundle as a vm.Script with a code cache, where import() fails ("A dynamic
  // import callback was not specified"): the modules a few commands load on demand (ws for -it,
  // tar-stream for build/cp/save/load, yaml for stacks) must come through require.
  it('loads what it leaves out through require, never import()', () => {
    const bundle = readFileSync(join(out, 'muelle.js'), 'utf8');
    expect(bundle.match(/\bimport\(\s*["'][^"']+["']\s*\)/g) ?? []).toEqual([]);
    for (const lazy of ['ws', 'tar-stream', 'yaml']) expect(bundle).toContain(`require("${lazy}")`);
  });
});
