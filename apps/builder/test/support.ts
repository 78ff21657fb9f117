import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HostFs } from '@muelle/isolation';
import { MediaType, applyLayer, tarDirectory } from '@muelle/oci';
import { createRegistryClient, type RegistryClient } from '@muelle/registry-client';
import pino from 'pino';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const ROOTFS_SCRIPT = join(REPO_ROOT, 'tools', 'images', 'make-busybox-rootfs.sh');
export const silentLogger = pino({ level: 'silent' });

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `muelle-${prefix}-`));
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Debian's CNCF registry (`apt-get install docker-registry`) without auth, on a free loopback port. */
export class LocalRegistry {
  private constructor(
    readonly host: string,
    private readonly process: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(): Promise<LocalRegistry> {
    const dir = tempDir('registry');
    const port = await freePort();
    const configPath = join(dir, 'config.yml');
    writeFileSync(configPath, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    const child = spawn('/usr/bin/docker-registry', ['serve', configPath], { stdio: 'ignore' });
    const host = `127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false);
      if (ok) return new LocalRegistry(host, child, dir);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill();
    throw new Error('docker-registry did not start');
  }

  client(): RegistryClient {
    return createRegistryClient({ baseUrl: `http://${this.host}` });
  }

  async stop(): Promise<void> {
    this.process.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Pushes a one-layer busybox image (tools/images/make-busybox-rootfs.sh) as `<repository>:<tag>`. */
export async function seedBusybox(client: RegistryClient, repository: string, tag = 'latest'): Promise<string> {
  const rootfs = tempDir('busybox-rootfs');
  const work = tempDir('busybox-layer');
  try {
    execFileSync(ROOTFS_SCRIPT, [rootfs], { stdio: 'ignore' });
    // Fixed mtimes: the base image is the same on every run.
    execFileSync('find', [rootfs, '-exec', 'touch', '-h', '-d', '2024-01-01T00:00:00Z', '{}', '+']);
    const layerPath = join(work, 'layer');
    const layer = await tarDirectory(rootfs, createWriteStream(layerPath));
    const config = Buffer.from(
      JSON.stringify({
        created: '2024-01-01T00:00:00Z',
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created: '2024-01-01T00:00:00Z', created_by: 'busybox rootfs' }],
      }),
    );
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    await client.pushBlob(repository, layer.digest, layer.size, () => createReadStream(layerPath));
    await client.pushBlob(repository, configDigest, config.length, async () => (await import('node:stream')).Readable.from([config]));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
        layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
      }),
    );
    return (await client.putManifest(repository, tag, manifest, MediaType.OciManifest)).digest;
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

export interface PulledImage {
  manifest: { layers: Array<{ digest: string; mediaType: string }>; config: { digest: string } };
  config: any;
  rootfs: string;
}

/** Pulls `repository:tag` back and unpacks it into a temp dir (the caller removes `rootfs`); FIFOs are made by the helper. */
export async function pullAndUnpack(client: RegistryClient, repository: string, tag: string): Promise<PulledImage> {
  const fetched = await client.getManifest(repository, tag);
  const manifest = JSON.parse(fetched.bytes.toString('utf8'));
  const chunks: Buffer[] = [];
  for await (const chunk of await client.getBlob(repository, manifest.config.digest)) chunks.push(chunk as Buffer);
  const config = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const rootfs = tempDir('pulled');
  const hooks = new HostFs();
  for (const layer of manifest.layers) await applyLayer(rootfs, await client.getBlob(repository, layer.digest), { hooks });
  return { manifest, config, rootfs };
}

export async function writeTree(dir: string, files: Record<string, string | { content?: string; mode?: number; symlink?: string }>): Promise<void> {
  for (const [name, spec] of Object.entries(files)) {
    const file = join(dir, name);
    await fs.mkdir(join(file, '..'), { recursive: true });
    if (typeof spec === 'string') await fs.writeFile(file, spec);
    else if (spec.symlink !== undefined) await fs.symlink(spec.symlink, file);
    else {
      await fs.writeFile(file, spec.content ?? '');
      if (spec.mode !== undefined) await fs.chmod(file, spec.mode);
    }
  }
}

/** Mounts below `prefix` (none must be left after a build). */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(prefix));
}
