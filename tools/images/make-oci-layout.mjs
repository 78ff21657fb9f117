#!/usr/bin/env node
// Writes an OCI image layout without any network, for registry tests and benchmarks:
//   node tools/images/make-oci-layout.mjs <dir> --busybox [--tag latest] [--busybox-path /bin/busybox]
//   node tools/images/make-oci-layout.mjs <dir> --random-layers 5 (--layer-mib 32 | --layer-kib 100) [--tag latest] [--seed text]
// --busybox: one gzip layer with /bin/busybox (Debian busybox-static) and /bin/sh etc. as symlinks.
// --random-layers: N gzip layers, each a tar holding one file of incompressible bytes.
// Prints the manifest digest. Deterministic for the same arguments (fixed mtimes, seeded bytes).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { createGzip } from 'node:zlib';
import { PassThrough } from 'node:stream';
import tarStream from 'tar-stream';

const args = process.argv.slice(2);
const dir = args[0];
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
if (!dir || (!args.includes('--busybox') && !args.includes('--random-layers'))) {
  console.error('usage: make-oci-layout.mjs <dir> (--busybox | --random-layers N --layer-mib M) [--tag T] [--seed S]');
  process.exit(2);
}
const tag = opt('tag', 'latest');
const blobsDir = join(dir, 'blobs', 'sha256');
mkdirSync(blobsDir, { recursive: true });
const MTIME = new Date('2024-01-01T00:00:00Z');

/** Streams a tar (built by `fill`) through gzip into the CAS; returns layer descriptor + diffID. */
async function writeLayer(fill) {
  const pack = tarStream.pack();
  const tmp = join(dir, `layer-${process.pid}.tmp`);
  const diff = createHash('sha256');
  const compressed = createHash('sha256');
  const tee = new PassThrough();
  tee.on('data', (c) => diff.update(c));
  const gz = createGzip({ level: 1 });
  const counter = new PassThrough();
  let size = 0;
  counter.on('data', (c) => {
    compressed.update(c);
    size += c.length;
  });
  const done = pipeline(pack, tee, gz, counter, createWriteStream(tmp));
  await fill(pack);
  pack.finalize();
  await done;
  const digest = compressed.digest('hex');
  renameSync(tmp, join(blobsDir, digest));
  return { descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${digest}`, size }, diffId: `sha256:${diff.digest('hex')}` };
}

function entry(pack, header, body) {
  return new Promise((resolve, reject) => {
    const stream = pack.entry({ mtime: MTIME, uid: 0, gid: 0, ...header }, body, (err) => (err ? reject(err) : resolve()));
    return stream;
  });
}

function writeBlob(json) {
  const bytes = Buffer.from(JSON.stringify(json));
  const digest = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(blobsDir, digest), bytes);
  return { digest: `sha256:${digest}`, size: bytes.length };
}

const layers = [];
if (args.includes('--busybox')) {
  const busybox = opt('busybox-path', '/bin/busybox');
  const bytes = readFileSync(busybox);
  layers.push(
    await writeLayer(async (pack) => {
      for (const d of ['bin/', 'etc/', 'tmp/']) await entry(pack, { name: d, type: 'directory', mode: d === 'tmp/' ? 0o1777 : 0o755 });
      await entry(pack, { name: 'bin/busybox', mode: 0o755, size: bytes.length }, bytes);
      for (const applet of ['sh', 'ls', 'cat', 'echo', 'true', 'sleep', 'env', 'id']) {
        await entry(pack, { name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777 });
      }
      const passwd = Buffer.from('root:x:0:0:root:/root:/bin/sh\n');
      await entry(pack, { name: 'etc/passwd', mode: 0o644, size: passwd.length }, passwd);
    }),
  );
} else {
  const count = Number(opt('random-layers', '1'));
  const mib = Number(opt('layer-mib', '0')) || Number(opt('layer-kib', '1024')) / 1024;
  const seed = opt('seed', 'muelle');
  for (let i = 0; i < count; i++) {
    layers.push(
      await writeLayer(async (pack) => {
        const size = Math.round(mib * 1024 * 1024);
        const stream = pack.entry({ name: `data-${i}.bin`, size, mode: 0o644, mtime: MTIME });
        // Counter-mode sha512 stream: incompressible, deterministic, fast enough.
        let block = createHash('sha512').update(`${seed}/${i}`).digest();
        let written = 0;
        const chunk = Buffer.alloc(64 * 1024);
        while (written < size) {
          for (let o = 0; o < chunk.length; o += 64) {
            block = createHash('sha512').update(block).digest();
            block.copy(chunk, o);
          }
          const piece = chunk.subarray(0, Math.min(chunk.length, size - written));
          written += piece.length;
          if (!stream.write(Buffer.from(piece))) await new Promise((r) => stream.once('drain', r));
        }
        await new Promise((resolve, reject) => {
          stream.once('finish', resolve);
          stream.once('error', reject);
          stream.end();
        });
      }),
    );
  }
}

const config = writeBlob({
  created: MTIME.toISOString(),
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
  rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  history: layers.map(() => ({ created: MTIME.toISOString(), created_by: 'make-oci-layout.mjs' })),
});
const manifest = writeBlob({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
  layers: layers.map((l) => l.descriptor),
});
writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
writeFileSync(
  join(dir, 'index.json'),
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }),
);
process.stdout.write(`${manifest.digest}\n`);
