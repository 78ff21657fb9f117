import { NotFoundError, PermissionDeniedError } from '@muelle/contracts';
import { RegistryAuthError, type RegistryClient, type RegistryClientOptions } from '@muelle/registry-client';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, StoredImage } from './image-store';

const REGISTRY = '127.0.0.1:5000';
const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A cached image is not a licence: the registry is asked, as the requester, before it is used. */
describe('ImageStore.ensure with a cached digest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'muelle-image-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const storeWith = (head: (repository: string, reference: string) => Promise<unknown>) => {
    const seen: RegistryClientOptions[] = [];
    const factory = (options: RegistryClientOptions) => {
      seen.push(options);
      return { headManifest: head } as unknown as RegistryClient;
    };
    return { store: new ImageStore(dir, REGISTRY, {} as never, factory), seen };
  };

  beforeAll(async () => {
    const { store } = storeWith(async () => null);
    await store.init();
    const image: StoredImage = {
      digest: DIGEST,
      configDigest: `sha256:${'b'.repeat(64)}`,
      references: [`${REGISTRY}/beta/secret:v1`],
      layers: [],
      sizeBytes: 0,
      config: {} as never,
      pulledAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, 'images', `${'a'.repeat(64)}.json`), JSON.stringify(image));
  });

  it('uses the cached image when the registry confirms the requester may pull that digest of that repository', async () => {
    const asked: string[] = [];
    const { store, seen } = storeWith(async (repository, reference) => {
      asked.push(`${repository}@${reference}`);
      return { digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10 };
    });
    await expect(store.ensure('beta/secret:v1', { username: 'beta-dev', password: 'pw' })).resolves.toMatchObject({ digest: DIGEST });
    expect(asked).toEqual([`beta/secret@${DIGEST}`]);
    expect(seen[0].credentials).toEqual({ username: 'beta-dev', password: 'pw' });
  });

  it('refuses the cached image to a requester the registry refuses', async () => {
    const { store } = storeWith(async () => Promise.reject(new RegistryAuthError('insufficient scope')));
    await expect(store.ensure('beta/secret:v1', { username: 'alpha-dev', password: 'pw' })).rejects.toThrow(PermissionDeniedError);
    const { store: gone } = storeWith(async () => null);
    await expect(gone.ensure('beta/secret:v1', { username: 'alpha-dev', password: 'pw' })).rejects.toThrow(NotFoundError);
  });
});

/** `system prune` on a host: images no container uses go with the layers only they held, and the bytes are reported. */
describe('ImageStore.prune', () => {
  const dir = mkdtempSync(join(tmpdir(), 'muelle-image-prune-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const layer = (c: string) => `sha256:${c.repeat(64)}`;
  const image = (c: string, layers: string[]): StoredImage => ({
    digest: `sha256:${c.repeat(64)}`,
    configDigest: `sha256:${'f'.repeat(64)}`,
    references: [`${REGISTRY}/app/${c}:v1`],
    layers,
    sizeBytes: 0,
    config: {} as never,
    pulledAt: new Date().toISOString(),
  });

  it('removes unused images and their own layers, keeps what a used image shares, and counts unpacked bytes', async () => {
    const store = new ImageStore(dir, REGISTRY, {} as never);
    await store.init();
    // 1 is shared by a (in use) and b (unused); 2 is b's alone; 3 belongs to no image already.
    for (const [c, size] of [['1', 1000], ['2', 2500], ['3', 40]] as const) {
      mkdirSync(join(dir, 'layers', c.repeat(64)));
      writeFileSync(join(dir, 'layers', `${c.repeat(64)}.size`), String(size));
    }
    writeFileSync(join(dir, 'images', `${'a'.repeat(64)}.json`), JSON.stringify(image('a', [layer('1')])));
    writeFileSync(join(dir, 'images', `${'b'.repeat(64)}.json`), JSON.stringify(image('b', [layer('1'), layer('2')])));

    const report = await store.prune((digest) => digest === `sha256:${'a'.repeat(64)}`);
    expect(report).toEqual({ removedImages: [`sha256:${'b'.repeat(64)}`], layersDeleted: 2, freedBytes: 2540 });
    expect(readdirSync(join(dir, 'images'))).toEqual([`${'a'.repeat(64)}.json`]);
    expect(readdirSync(join(dir, 'layers')).sort()).toEqual(['1'.repeat(64), `${'1'.repeat(64)}.size`]);
    // Nothing left to free: a second prune with nothing in use takes the last image.
    expect(await store.prune(() => false)).toEqual({ removedImages: [`sha256:${'a'.repeat(64)}`], layersDeleted: 1, freedBytes: 1000 });
    expect(existsSync(join(dir, 'layers', '1'.repeat(64)))).toBe(false);
  });
});
