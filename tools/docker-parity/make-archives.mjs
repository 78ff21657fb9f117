#!/usr/bin/env node
// Writes the tar archives used as ADD sources by the docker-parity fixtures (committed; rerun only
// to change them). Headers carry owners, modes, a symlink and a hard link on purpose: `ADD` must
// keep them when it unpacks the archive.
//   node tools/docker-parity/make-archives.mjs
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';

const here = dirname(fileURLToPath(import.meta.url));
const context = join(here, '..', '..', 'apps', 'builder', 'test', 'docker-parity', 'add-archives', 'context');
const mtime = new Date('2024-01-01T00:00:00Z');

const entries = [
  { name: 'pkg/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000, uname: 'no-such-user' },
  { name: 'pkg/bin/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
  { name: 'pkg/bin/tool', mode: 0o4755, uid: 0, gid: 0, body: '#!/bin/sh\necho tool\n' },
  { name: 'pkg/data.txt', mode: 0o640, uid: 1000, gid: 50, body: 'data from the archive\n' },
  { name: 'pkg/data-link', type: 'symlink', linkname: 'data.txt', mode: 0o777, uid: 1000, gid: 1000 },
  { name: 'pkg/data-hard', type: 'link', linkname: 'pkg/data.txt', mode: 0o640, uid: 1000, gid: 50 },
  { name: 'pkg/private/', type: 'directory', mode: 0o700, uid: 65534, gid: 65534 },
  { name: 'pkg/private/key', mode: 0o600, uid: 65534, gid: 65534, body: 'secret\n' },
  // Parent directory not listed in the archive: the extractor has to create it.
  { name: 'implicit/parent/file.txt', mode: 0o644, uid: 0, gid: 0, body: 'implicit parent\n' },
];

async function write(file, gzip) {
  const pack = tarStream.pack();
  for (const { body, ...header } of entries) pack.entry({ type: 'file', mtime, ...header }, body ?? undefined);
  pack.finalize();
  await pipeline(...(gzip ? [pack, createGzip(), createWriteStream(file)] : [pack, createWriteStream(file)]));
}

await write(join(context, 'layer.tar'), false);
await write(join(context, 'layer.tar.gz'), true);
console.log(`wrote ${context}/layer.tar{,.gz}`);
