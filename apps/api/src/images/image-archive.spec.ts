import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import type { RequestPrincipal } from '../auth/principal';
import type { ImageCatalog } from './image-catalog';
import { ImageLoad } from './image-load';
import { ImageSave } from './image-save';

const digest = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
const layer = gzipSync(Buffer.from('pretend layer tar'));
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(layer), size: layer.length }],
  }),
);
const blobs = new Map([
  [digest(config), config],
  [digest(layer), layer],
]);
const principal = { userId: 'u', teamName: 'alpha' } as unknown as RequestPrincipal;

function fakes() {
  const pushed = new Map<string, Buffer>();
  const manifests: Array<{ repository: string; tag: string; bytes: Buffer }> = [];
  const client = {
    getBlob: async (_repository: string, d: string) => Readable.from([blobs.get(d) as Buffer]),
    pushBlob: async (_repository: string, d: string, _size: number, open: () => Readable) => {
      const chunks: Buffer[] = [];
      for await (const chunk of open()) chunks.push(chunk as Buffer);
      pushed.set(d, Buffer.concat(chunks));
      return { digest: d, existed: false };
    },
    putManifest: async (repository: string, tag: string, bytes: Buffer) => {
      manifests.push({ repository, tag, bytes });
      return { digest: digest(bytes) };
    },
  };
  const catalog = {
    registry: 'registry.test:5000',
    isImageId: (name: string) => /^(sha256:)?[a-f0-9]{12,64}$/.test(name),
    resolve: async () => ({ id: digest(config), repoTags: ['app:1'], repository: 'alpha/app', manifestDigest: digest(manifest) }),
    manifestOf: async () => ({ digest: digest(manifest), mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: manifest, document: JSON.parse(manifest.toString()) }),
    registryClient: () => client,
    localReference: (name: string) => ({ registry: 'registry.test:5000', repository: `alpha/${name.split(':')[0]}`, tag: name.split(':')[1] }),
    findLocal: async (_p: unknown, name: string) => ({ registry: 'registry.test:5000', repository: name.startsWith('alpha/') ? name.split(':')[0] : `alpha/${name.split(':')[0]}`, tag: name.split(':')[1] }),
  } as unknown as ImageCatalog;
  const required: string[] = [];
  const access = { require: async (_p: unknown, action: string, repository: string) => void required.push(`${action} ${repository}`) };
  const audit = { record: async () => undefined };
  return { pushed, manifests, catalog, required, loader: new ImageLoad(catalog, access as never, audit as never) };
}

async function saved(catalog: ImageCatalog, name: string): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await new ImageSave(catalog).save(principal, [name], out, () => undefined);
  return Buffer.concat(chunks);
}

async function entriesOf(archive: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      entries.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  extract.end(archive);
  await reading;
  return entries;
}

describe('docker-archives', () => {
  it('saves an image as dockerd 25 does: blobs by digest, manifest.json, index.json, oci-layout, repositories', async () => {
    const entries = await entriesOf(await saved(fakes().catalog, 'app:1'));
    expect(entries.get(`blobs/sha256/${digest(config).slice(7)}`)).toEqual(config);
    expect(entries.get(`blobs/sha256/${digest(layer).slice(7)}`)).toEqual(layer);
    expect(entries.get(`blobs/sha256/${digest(manifest).slice(7)}`)).toEqual(manifest);
    expect(JSON.parse((entries.get('manifest.json') as Buffer).toString())).toEqual([
      { Config: `blobs/sha256/${digest(config).slice(7)}`, RepoTags: ['alpha/app:1'], Layers: [`blobs/sha256/${digest(layer).slice(7)}`] },
    ]);
    expect(JSON.parse((entries.get('index.json') as Buffer).toString()).manifests[0]).toMatchObject({ digest: digest(manifest), annotations: { 'io.containerd.image.name': 'alpha/app:1' } });
    expect(JSON.parse((entries.get('oci-layout') as Buffer).toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(JSON.parse((entries.get('repositories') as Buffer).toString())).toEqual({ 'alpha/app': { '1': digest(layer).slice(7) } });
  });

  it('loads what it saved with the config unchanged (the same image id), each name pushed where push is allowed', async () => {
    const archive = await saved(fakes().catalog, 'app:1');
    const { loader, pushed, manifests, required } = fakes();
    const lines: string[] = [];
    await loader.load(principal, Readable.from([archive]), (line) => lines.push(line));
    expect(lines).toEqual(['Loaded image: alpha/app:1']);
    expect(required).toEqual(['push alpha/app']);
    expect(pushed.get(digest(config))).toEqual(config);
    expect(manifests).toHaveLength(1);
    const pushedManifest = JSON.parse(manifests[0].bytes.toString());
    expect([manifests[0].repository, manifests[0].tag, pushedManifest.config.digest]).toEqual(['alpha/app', '1', digest(config)]);
    expect(pushedManifest.layers).toEqual([{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(layer), size: layer.length }]);
  });

  it("loads dockerd 20.10's layout (<id>/layer.tar, a shared layer as a symlink) and names a nameless image by id", async () => {
    const pack = tar.pack();
    const plain = Buffer.from('plain layer tar');
    pack.entry({ name: 'aaa/layer.tar' }, plain);
    pack.entry({ name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' });
    pack.entry({ name: `${digest(config).slice(7)}.json` }, config);
    pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: `${digest(config).slice(7)}.json`, RepoTags: null, Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }]));
    pack.finalize();
    const { loader, manifests } = fakes();
    const lines: string[] = [];
    await loader.load(principal, pack as unknown as Readable, (line) => lines.push(line));
    expect(lines).toEqual([`Loaded image ID: ${digest(config)}`]);
    expect(manifests[0].repository).toBe('alpha/untagged');
    expect(JSON.parse(manifests[0].bytes.toString()).layers.map((l: { mediaType: string; digest: string }) => [l.mediaType, l.digest])).toEqual([
      ['application/vnd.oci.image.layer.v1.tar', digest(plain)],
      ['application/vnd.oci.image.layer.v1.tar', digest(plain)],
    ]);
  });

  it('refuses what is not a docker-archive with a 4xx naming the problem', async () => {
    const { loader } = fakes();
    await expect(loader.load(principal, Readable.from([Buffer.from('not a tar')]), () => undefined)).rejects.toThrow(/the archive to load is not a tar archive/);
    const pack = tar.pack();
    pack.entry({ name: 'hello.txt' }, 'hi');
    pack.finalize();
    await expect(loader.load(principal, pack as unknown as Readable, () => undefined)).rejects.toThrow(/has no manifest.json/);
    const escape = tar.pack();
    escape.entry({ name: '../evil' }, 'x');
    escape.finalize();
    await expect(loader.load(principal, escape as unknown as Readable, () => undefined)).rejects.toThrow(/points outside the archive/);
  });
});
