import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LayerFormatError } from './errors';
import { applyLayer } from './layer-apply';
import { buildTarGz } from './tar-fixture.spec-helper';

/**
 * A file that fails while it is written (here over a size limit; on a host, ENOSPC) while gunzip still holds output: the
 * parser is destroyed, and the loop feeding it used to get one more chunk, write it to the destroyed
 * parser and wait for a 'drain' that never comes. applyLayer never settled, and the container
 * create that pulled the layer never answered (e2e/chaos/full-disk, now and then).
 */
describe('applyLayer when an entry fails mid-stream', () => {
  it('settles with the entry error however the compressed stream is cut', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'layer-abort-'));
    try {
      // Incompressible bytes: gunzip has plenty of output in hand when the write of `big` fails.
      const gz = await buildTarGz([{ name: 'big', content: randomBytes(4 * 1024 * 1024) }, { name: 'after', content: randomBytes(1024 * 1024) }]);
      for (const chunkBytes of [512, 4096, 65536, 1024 * 1024]) {
        await fs.rm(path.join(root, 'big'), { force: true });
        const chunks: Buffer[] = [];
        for (let at = 0; at < gz.length; at += chunkBytes) chunks.push(gz.subarray(at, at + chunkBytes));
        const outcome = applyLayer(root, Readable.from(chunks), { limits: { maxFileBytes: 64 * 1024 } }).then(
          () => 'applied',
          (error: unknown) => error,
        );
        const late = new Promise((resolve) => setTimeout(() => resolve('still waiting after 5 s'), 5_000).unref());
        expect(await Promise.race([outcome, late])).toBeInstanceOf(LayerFormatError);
      }
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  }, 30_000);
});
