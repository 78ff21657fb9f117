#!/usr/bin/env node
// Records what Docker's legacy builder makes of each fixture under apps/builder/test/docker-parity/:
// every case directory holds `context/` (Dockerfile and files), `build.json` (build args, target,
// file modes git cannot keep) and gets `expected.json` (the image's file tree and config fields).
// apps/builder/test/docker-parity.int-spec.ts builds the same cases with Muelle's builder and
// compares, so CI needs no Docker.
//
//   DOCKER_HOST=unix:///tmp/parity/docker.sock node tools/docker-parity/record.mjs [case ...]
//
// Needs a dockerd (Debian docker.io, 20.10) that may be given the tag `busybox:latest` (use a
// dedicated one, see tools/docker-parity/README.md) and busybox-static for the base rootfs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tarStream from 'tar-stream';
import { prepareContext } from './prepare-context.mjs';
import { importBase } from './busybox-base.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const casesRoot = join(repoRoot, 'apps', 'builder', 'test', 'docker-parity');
const BASE_IMAGE = 'busybox:latest';

const docker = (args, options = {}) =>
  execFileSync('docker', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'], ...options });

const normalizePath = (name) => '/' + name.replace(/^\.?\/+/, '').replace(/\/+$/, '');

async function readLayer(file) {
  const entries = [];
  const extract = tarStream.extract();
  createReadStream(file).pipe(extract);
  for await (const entry of extract) {
    const hash = createHash('sha256');
    for await (const chunk of entry) hash.update(chunk);
    entries.push({ header: entry.header, sha256: hash.digest('hex') });
  }
  return entries;
}

const TYPES = { file: 'file', directory: 'dir', symlink: 'symlink', fifo: 'fifo', 'character-device': 'char', 'block-device': 'block' };

/** Applies `docker save` layers in order (whiteouts, opaque directories, hard links) to a path → entry map. */
async function flatten(layerFiles) {
  const tree = new Map();
  const removeUnder = (dir, includeSelf) => {
    for (const path of [...tree.keys()]) if ((includeSelf && path === dir) || path.startsWith(dir === '/' ? '/' : `${dir}/`)) tree.delete(path);
  };
  for (const file of layerFiles) {
    const entries = await readLayer(file);
    // Whiteouts hide lower layers only, so they go first.
    for (const { header } of entries) {
      const path = normalizePath(header.name);
      const base = path.slice(path.lastIndexOf('/') + 1);
      const parent = path.slice(0, path.lastIndexOf('/')) || '/';
      if (base === '.wh..wh..opq') removeUnder(parent, false);
      else if (base.startsWith('.wh.')) removeUnder(`${parent === '/' ? '' : parent}/${base.slice(4)}`, true);
    }
    for (const { header, sha256 } of entries) {
      const path = normalizePath(header.name);
      const base = path.slice(path.lastIndexOf('/') + 1);
      if (path === '/' || base.startsWith('.wh.')) continue;
      if (header.type === 'link') {
        const target = tree.get(normalizePath(header.linkname));
        if (!target) throw new Error(`hard link ${path} → ${header.linkname}: target missing`);
        tree.set(path, target);
        continue;
      }
      const type = TYPES[header.type];
      if (!type) throw new Error(`${path}: unexpected tar entry type ${header.type}`);
      if (type !== 'dir') removeUnder(path, true);
      const entry = { type, mode: header.mode & 0o7777, uid: header.uid, gid: header.gid };
      if (type === 'file') entry.sha256 = sha256;
      if (type === 'symlink') entry.target = header.linkname;
      tree.set(path, entry);
    }
  }
  return tree;
}

// The fields compared; the test decides what counts as equal (null vs absent, {} vs absent).
const CONFIG_FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Labels', 'Volumes', 'StopSignal', 'Shell', 'Healthcheck', 'OnBuild'];
const pickConfig = (config) => Object.fromEntries(CONFIG_FIELDS.map((field) => [field, config?.[field] ?? null]));

/** One line per path: `/etc/passwd file 0644 0:0 sha256:…`, `/bin/ls symlink 0777 0:0 -> /bin/busybox`. */
function describe(tree) {
  return [...tree.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, e]) => {
      let line = `${path} ${e.type} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid}`;
      if (e.type === 'file') line += ` sha256:${e.sha256}`;
      if (e.type === 'symlink') line += ` -> ${e.target}`;
      return line;
    });
}

async function recordCase(name, work) {
  const caseDir = join(casesRoot, name);
  const context = join(work, `context-${name}`);
  const spec = prepareContext(caseDir, context);
  const tag = `muelle-parity/${name}:latest`;
  const args = ['build', '--no-cache', '--network', 'none', '-t', tag];
  for (const [key, value] of Object.entries(spec.buildArgs ?? {})) args.push('--build-arg', `${key}=${value}`);
  if (spec.target) args.push('--target', spec.target);
  docker([...args, context], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });

  const saved = join(work, `saved-${name}`);
  mkdirSync(saved);
  docker(['save', '-o', join(saved, 'image.tar'), tag]);
  execFileSync('tar', ['-C', saved, '-xf', join(saved, 'image.tar')]);
  const [manifest] = JSON.parse(readFileSync(join(saved, 'manifest.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(saved, manifest.Config), 'utf8'));
  const tree = await flatten(manifest.Layers.map((layer) => join(saved, layer)));
  const version = JSON.parse(docker(['version', '--format', '{{json .Server.Version}}']));
  const expected = {
    recordedWith: `docker ${version} legacy builder (DOCKER_BUILDKIT=0)`,
    config: pickConfig(config.config),
    files: describe(tree),
  };
  writeFileSync(join(caseDir, 'expected.json'), JSON.stringify(expected, null, 2) + '\n');
  docker(['rmi', tag]);
  console.log(`${name}: ${expected.files.length} paths`);
}

if (!process.env.DOCKER_HOST) {
  // It re-tags busybox:latest: never do that to the machine's own engine by accident.
  console.error('record.mjs: set DOCKER_HOST to a dedicated dockerd (see tools/docker-parity/README.md)');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'muelle-parity-'));
try {
  importBase(repoRoot, work, docker, BASE_IMAGE);
  const wanted = process.argv.slice(2);
  const cases = readdirSync(casesRoot, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const name of wanted.length ? wanted : cases) {
    if (!cases.includes(name)) throw new Error(`no case ${name} under ${casesRoot}`);
    await recordCase(name, work);
  }
} catch (error) {
  console.error(error.stderr ? `${error.message}\n${error.stderr}` : error);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
