import { RunningDistribution, startDistributionRegistry } from '@muelle/testing';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { copyImage, createRegistryClient, RegistryClient, RegistryNotFoundError } from './index';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function pushImage(client: RegistryClient, repository: string, tag: string, layers: Buffer[]) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(sha256) } }));
  for (const blob of [config, ...layers]) await client.pushBlob(repository, sha256(blob), blob.length, () => Readable.from([blob]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(l), size: l.length })),
    }),
  );
  return client.putManifest(repository, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
}

describe('registry client against CNCF Distribution', () => {
  let first: RunningDistribution;
  let second: RunningDistribution;
  let a: RegistryClient;
  let b: RegistryClient;

  beforeAll(async () => {
    [first, second] = await Promise.all([startDistributionRegistry(), startDistributionRegistry()]);
    a = createRegistryClient({ baseUrl: first.url });
    b = createRegistryClient({ baseUrl: second.url });
  }, 30_000);

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
  });

  it('pushes blobs of every size and reads them back verified', async () => {
    await a.ping();
    for (const blob of [Buffer.alloc(0), Buffer.from('hello'), randomBytes(5 * 1024 * 1024 + 7)]) {
      const result = await a.pushBlob('lib/blobs', sha256(blob), blob.length, () => Readable.from([blob]));
      expect(result.existed).toBe(false);
      expect(await a.headBlob('lib/blobs', sha256(blob))).toEqual({ size: blob.length });
      expect((await buffer(await a.getBlob('lib/blobs', sha256(blob)))).equals(blob)).toBe(true);
    }
    const again = Buffer.from('hello');
    expect((await a.pushBlob('lib/blobs', sha256(again), again.length, () => Readable.from([again]))).existed).toBe(true);
    expect(await a.headBlob('lib/blobs', sha256(Buffer.from('never pushed')))).toBeNull();
  });

  it('refuses to upload bytes that do not match the digest', async () => {
    await expect(a.pushBlob('lib/blobs', sha256(Buffer.from('one')), 3, () => Readable.from([Buffer.from('two')]))).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
  });

  it('stores and fetches manifests by tag and digest, and lists tags', async () => {
    const { digest } = await pushImage(a, 'team/app', 'v1', [randomBytes(1000), randomBytes(2000)]);
    const byTag = await a.getManifest('team/app', 'v1');
    expect(byTag.digest).toBe(digest);
    expect(byTag.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect((await a.getManifest('team/app', digest)).bytes.equals(byTag.bytes)).toBe(true);
    expect(await a.headManifest('team/app', 'v1')).toMatchObject({ digest });
    await pushImage(a, 'team/app', 'v2', [randomBytes(10)]);
    expect((await a.listTags('team/app')).sort()).toEqual(['v1', 'v2']);
    expect(await a.listTags('team/none')).toEqual([]);
    await expect(a.getManifest('team/app', 'missing')).rejects.toThrow(RegistryNotFoundError);
  });

  it('copies an image to another repository (mounting) and to another registry', async () => {
    const layers = [randomBytes(3000), randomBytes(4000)];
    const { digest } = await pushImage(a, 'src/img', 'latest', layers);
    const events: string[] = [];
    const copied = await copyImage({ client: a, repository: 'src/img', reference: 'latest' }, { client: b, repository: 'dst/img', reference: 'copy' }, { onBlob: (e) => events.push(e.state) });
    expect(copied.digest).toBe(digest);
    expect(events.filter((e) => e === 'copied')).toHaveLength(3);
    expect((await b.getManifest('dst/img', 'copy')).digest).toBe(digest);
    for (const layer of layers) expect((await buffer(await b.getBlob('dst/img', sha256(layer)))).equals(layer)).toBe(true);
    const again: string[] = [];
    await copyImage({ client: a, repository: 'src/img', reference: 'latest' }, { client: b, repository: 'dst/img', reference: 'copy2' }, { onBlob: (e) => again.push(e.state) });
    expect(again).toEqual(['skipped', 'skipped', 'skipped']);
    await copyImage({ client: a, repository: 'src/img', reference: digest }, { client: a, repository: 'other/img', reference: 'mounted' });
    expect((await a.getManifest('other/img', 'mounted')).digest).toBe(digest);
  });

  it('deletes a manifest', async () => {
    const { digest } = await pushImage(a, 'gone/img', 'x', [randomBytes(5)]);
    await a.deleteManifest('gone/img', digest);
    await expect(a.getManifest('gone/img', digest)).rejects.toThrow(RegistryNotFoundError);
  });
});
