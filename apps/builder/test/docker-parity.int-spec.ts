import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { detectCgroupDriver, LinuxIsolationDriver } from '@muelle/isolation';
import type { RegistryClient } from '@muelle/registry-client';
import { BuilderStore } from '../src/dockerfile-build/store';
import { BuildsService } from '../src/builds/builds.service';
import pino from 'pino';
import { LocalRegistry, pullAndUnpack, seedBusybox, silentLogger, tempDir } from './support';

// "Same result as Docker": each case under test/docker-parity/ was built by `docker build`
// (legacy builder, tools/docker-parity/record.mjs) on the same busybox base; expected.json holds
// that image's file tree and config. Here Muelle's builder builds the same context and must match.
jest.setTimeout(180_000);

const CASES_ROOT = join(__dirname, 'docker-parity');
const PREPARE_CONTEXT = join(__dirname, '..', '..', '..', 'tools', 'docker-parity', 'prepare-context.mjs');
const cases = readdirSync(CASES_ROOT, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(CASES_ROOT, entry.name, 'expected.json')))
  .map((entry) => entry.name);

interface Expected {
  config: Record<string, unknown>;
  files: string[];
}

const TYPE_NAMES: Array<[(s: import('node:fs').Stats) => boolean, string]> = [
  [(s) => s.isDirectory(), 'dir'],
  [(s) => s.isFile(), 'file'],
  [(s) => s.isSymbolicLink(), 'symlink'],
  [(s) => s.isFIFO(), 'fifo'],
  [(s) => s.isCharacterDevice(), 'char'],
  [(s) => s.isBlockDevice(), 'block'],
];

/** The unpacked image as record.mjs describes Docker's: one sorted line per path (mtimes left out on purpose). */
async function describeTree(root: string): Promise<string[]> {
  const lines: Array<[string, string]> = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const name of await fs.readdir(dir)) {
      const full = join(dir, name);
      const path = `${prefix}/${name}`;
      const stat = await fs.lstat(full);
      const type = TYPE_NAMES.find(([test]) => test(stat))?.[1] ?? 'unknown';
      let line = `${path} ${type} ${(stat.mode & 0o7777).toString(8).padStart(4, '0')} ${stat.uid}:${stat.gid}`;
      if (type === 'file') line += ` sha256:${createHash('sha256').update(await fs.readFile(full)).digest('hex')}`;
      if (type === 'symlink') line += ` -> ${await fs.readlink(full)}`;
      lines.push([path, line]);
      if (type === 'dir') await walk(full, path);
    }
  }
  await walk(root, '');
  return lines.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, line]) => line);
}

/**
 * Config fields compared. Docker writes `null`, `""` or `{}` where Muelle may leave a field out;
 * the image behaves the same either way, so empty values count as absent. `[]` is kept: an empty
 * Cmd or Entrypoint list is a real setting.
 */
function comparableConfig(config: Record<string, unknown> | undefined): Record<string, unknown> {
  const fields = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Labels', 'Volumes', 'StopSignal', 'Shell', 'Healthcheck', 'OnBuild'];
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = config?.[field];
    const empty = value === null || value === undefined || value === '' || (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);
    if (!empty) out[field] = value;
  }
  return out;
}

let registry: LocalRegistry;
let client: RegistryClient;
let dataDir: string;
let service: BuildsService;

beforeAll(async () => {
  registry = await LocalRegistry.start();
  client = registry.client();
  // The same rootfs record.mjs imports into Docker as busybox:latest.
  await seedBusybox(client, 'busybox', 'latest');
  dataDir = tempDir('parity-data');
  const store = await BuilderStore.open(join(dataDir, 'builder'));
  const cgroups = await detectCgroupDriver().catch(() => undefined);
  service = new BuildsService({ store, isolation: new LinuxIsolationDriver(), cgroups, defaultRegistry: registry.host, insecureRegistries: [], urlPolicy: { allowPrivateNetworks: false }, logger: process.env.PARITY_LOG ? pino({ level: 'error' }) : silentLogger });
});

afterAll(async () => {
  await registry?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe('same result as docker build (legacy builder), from recorded fixtures', () => {
  it('has the fixture cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(6);
  });

  it.each(cases)('%s', async (name) => {
    const caseDir = join(CASES_ROOT, name);
    const expected = JSON.parse(readFileSync(join(caseDir, 'expected.json'), 'utf8')) as Expected;
    const context = tempDir(`parity-${name}`);
    try {
      await fs.rm(context, { recursive: true });
      const options = JSON.parse(execFileSync(process.execPath, [PREPARE_CONTEXT, caseDir, context], { encoding: 'utf8' })) as { buildArgs: Record<string, string>; target?: string };
      const record = await service.run(
        {
          context: { kind: 'directory', path: context },
          dockerfile: 'Dockerfile',
          tags: [`${registry.host}/parity/${name}:latest`],
          buildArgs: options.buildArgs,
          target: options.target,
          noCache: false,
          network: 'none',
          registryCredentials: {},
        },
        () => undefined,
      );
      expect(record.error).toBeUndefined();
      expect(record.state).toBe('succeeded');

      const image = await pullAndUnpack(client, `parity/${name}`, 'latest');
      try {
        expect(comparableConfig(image.config.config)).toEqual(comparableConfig(expected.config));
        expect(await describeTree(image.rootfs)).toEqual(expected.files);
      } finally {
        await fs.rm(image.rootfs, { recursive: true, force: true });
      }
    } finally {
      await fs.rm(context, { recursive: true, force: true });
    }
  });
});
