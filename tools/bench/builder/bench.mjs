#!/usr/bin/env node
// Builder benchmark: Muelle's builder (BuildsService, real isolation) against `buildah bud --layers`
// and `docker build` (legacy builder, only when a dockerd answers) on the same reference
// Dockerfiles, in the same run, from a local registry seeded with a busybox base image.
//   npm run build && node tools/bench/builder/bench.mjs [--files 2000] [--runs 3]
// Needs root, busybox-static, docker-registry, buildah (apt-get install -y busybox-static docker-registry buildah).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(join(root, 'dist', 'apps', 'builder', 'src', 'index.js'));
const { BuilderStore } = require('./dockerfile-build/store');
const { BuildsService } = require('./builds/builds.service');
const { LinuxIsolationDriver, detectCgroupDriver } = require('@muelle/isolation');
const { MediaType, tarDirectory } = require('@muelle/oci');
const { createRegistryClient } = require('@muelle/registry-client');
const pino = require('pino');

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const FILES = opt('files', 2000);
const RUNS = opt('runs', 3);
const work = mkdtempSync(join(tmpdir(), 'muelle-builder-bench-'));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function startRegistry() {
  const port = await freePort();
  const dir = join(work, 'registry');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.ok, () => false)) return { host: `127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('docker-registry did not start');
}

async function seedBusybox(client) {
  const rootfs = join(work, 'busybox');
  execFileSync(join(root, 'tools', 'images', 'make-busybox-rootfs.sh'), [rootfs]);
  const layerPath = join(work, 'busybox.tgz');
  const layer = await tarDirectory(rootfs, createWriteStream(layerPath));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [layer.diffId] }, history: [{ created_by: 'busybox' }] }));
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  await client.pushBlob('busybox', layer.digest, layer.size, () => createReadStream(layerPath));
  await client.pushBlob('busybox', configDigest, config.length, () => Readable.from([config]));
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length }, layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }] };
  await client.putManifest('busybox', 'latest', Buffer.from(JSON.stringify(manifest)), MediaType.OciManifest);
}

/** Reference build: a source tree copied in, RUN steps that create and delete files, a second stage. */
function makeContext(host) {
  const dir = join(work, 'context');
  mkdirSync(join(dir, 'src'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, 'src', `d${i % 50}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.txt`), `file ${i}\n`.repeat(50));
  }
  writeFileSync(join(dir, 'app.conf'), 'v=1\n');
  writeFileSync(
    join(dir, 'Dockerfile'),
    `FROM ${host}/busybox AS build
ENV MODE=release
WORKDIR /work
COPY src/ ./src/
RUN find src -type f | wc -l > count.txt && tar -czf /bundle.tgz src && rm -rf src/d0
RUN for i in $(seq 1 200); do echo $i > /tmp/gen$i; done && rm -f /tmp/gen1*
FROM ${host}/busybox
COPY --from=build /bundle.tgz /work/count.txt /opt/
COPY app.conf /etc/app.conf
USER nobody
CMD ["sh"]
`,
  );
  return dir;
}

const time = async (fn) => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const registry = await startRegistry();
  const client = createRegistryClient({ baseUrl: `http://${registry.host}` });
  await seedBusybox(client);
  const context = makeContext(registry.host);
  const results = [];
  const cgroups = await detectCgroupDriver().catch(() => undefined);
  const logger = pino({ level: 'silent' });

  // Muelle
  const muelle = { cold: [], cached: [], changed: [] };
  for (let r = 0; r < RUNS; r++) {
    const data = join(work, `muelle-${r}`);
    const service = new BuildsService({ store: await BuilderStore.open(join(data, 'builder')), isolation: new LinuxIsolationDriver(), cgroups, defaultRegistry: registry.host, insecureRegistries: [], logger });
    const request = { context: { kind: 'directory', path: context }, dockerfile: 'Dockerfile', tags: [], buildArgs: {}, noCache: false, network: 'none', registryCredentials: {} };
    const check = (record) => {
      if (record.state !== 'succeeded') throw new Error(`muelle build failed: ${record.error?.message}`);
    };
    muelle.cold.push(await time(async () => check(await service.run(request))));
    muelle.cached.push(await time(async () => check(await service.run(request))));
    writeFileSync(join(context, 'app.conf'), `v=${r + 2}\n`);
    muelle.changed.push(await time(async () => check(await service.run(request))));
    rmSync(data, { recursive: true, force: true });
  }
  results.push(['muelle', muelle]);

  // buildah bud --layers
  const buildahOk = await run('buildah', ['--version']).then(() => true, () => false);
  if (buildahOk) {
    const buildah = { cold: [], cached: [], changed: [] };
    const bud = () => run('buildah', ['bud', '--layers', '--tls-verify=false', '--isolation', 'chroot', '-q', '-t', 'muelle-bench:latest', context], { maxBuffer: 1 << 26 });
    for (let r = 0; r < RUNS; r++) {
      await run('buildah', ['rmi', '-a', '-f']).catch(() => undefined);
      buildah.cold.push(await time(bud));
      buildah.cached.push(await time(bud));
      writeFileSync(join(context, 'app.conf'), `v=b${r}\n`);
      buildah.changed.push(await time(bud));
    }
    await run('buildah', ['rmi', '-a', '-f']).catch(() => undefined);
    results.push(['buildah bud --layers', buildah]);
  }

  // docker build (legacy builder) when a daemon answers
  const dockerOk = await run('docker', ['info'], { timeout: 5000 }).then(() => true, () => false);
  if (dockerOk) {
    const docker = { cold: [], cached: [], changed: [] };
    const env = { ...process.env, DOCKER_BUILDKIT: '0' };
    const build = () => run('docker', ['build', '-q', '-t', 'muelle-bench:latest', context], { env, maxBuffer: 1 << 26 });
    for (let r = 0; r < RUNS; r++) {
      await run('docker', ['builder', 'prune', '-a', '-f']).catch(() => undefined);
      await run('docker', ['rmi', '-f', 'muelle-bench:latest', `${registry.host}/busybox`]).catch(() => undefined);
      docker.cold.push(await time(build));
      docker.cached.push(await time(build));
      writeFileSync(join(context, 'app.conf'), `v=d${r}\n`);
      docker.changed.push(await time(build));
    }
    results.push(['docker build (legacy)', docker]);
  }

  console.log(`reference build: ${FILES} files copied, 2 RUN steps, 2 stages; median of ${RUNS} runs (ms)`);
  console.log('tool'.padEnd(24), 'cold'.padStart(9), 'cached'.padStart(9), 'one-file-changed'.padStart(17));
  for (const [name, r] of results) console.log(name.padEnd(24), median(r.cold).toFixed(0).padStart(9), median(r.cached).toFixed(0).padStart(9), median(r.changed).toFixed(0).padStart(17));
  if (!dockerOk) console.log('docker build: skipped (no dockerd answering)');
  registry.child.kill();
  rmSync(work, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
