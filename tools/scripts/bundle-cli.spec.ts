import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
});
