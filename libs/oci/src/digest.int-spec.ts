// Integration tier: a real second Node process continues a hash started here,
// as a chunked upload does when its next PATCH lands on another registry replica.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as ts from 'typescript';
import { Digester } from './digest';

const execFileAsync = promisify(execFile);
const NODE_MODULES = path.resolve(__dirname, '../../../node_modules');

/** Transpiles the digest module and its local imports to CommonJS in `outDir`. */
async function emitDigestModule(outDir: string): Promise<void> {
  for (const name of ['digest', 'errors', 'grammar']) {
    const source = await fs.readFile(path.join(__dirname, `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    await fs.writeFile(path.join(outDir, `${name}.js`), outputText);
  }
}

describe('Digester state across processes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oci-digester-'));
    await emitDigestModule(dir);
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('continues in a child process and back, matching node crypto', async () => {
    const payload = randomBytes(1_000_000);
    const [cutA, cutB] = [123_457, 700_001];

    const first = await Digester.create();
    first.update(payload.subarray(0, cutA));
    await fs.writeFile(path.join(dir, 'state-1'), first.saveState());
    await fs.writeFile(path.join(dir, 'part-2'), payload.subarray(cutA, cutB));

    const child = `
      const fs = require('fs');
      const { Digester } = require(${JSON.stringify(path.join(dir, 'digest.js'))});
      (async () => {
        const d = await Digester.restore(fs.readFileSync(process.argv[1] + '/state-1'));
        d.update(fs.readFileSync(process.argv[1] + '/part-2'));
        fs.writeFileSync(process.argv[1] + '/state-2', d.saveState());
        process.stdout.write(String(process.pid));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const { stdout } = await execFileAsync(process.execPath, ['-e', child, dir], { env: { ...process.env, NODE_PATH: NODE_MODULES } });
    expect(Number(stdout)).not.toBe(process.pid);

    const last = await Digester.restore(await fs.readFile(path.join(dir, 'state-2')));
    expect(last.size).toBe(cutB);
    last.update(payload.subarray(cutB));
    expect(last.digests()).toEqual({
      sha256: `sha256:${createHash('sha256').update(payload).digest('hex')}`,
      sha512: `sha512:${createHash('sha512').update(payload).digest('hex')}`,
    });
  });
});
