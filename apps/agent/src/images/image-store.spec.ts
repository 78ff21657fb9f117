import { NotFoundError, PermissionDeniedError } from '@muelle/contracts';
import { RegistryAuthError, type RegistryClient, type RegistryClientOptions } from '@muelle/registry-client';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
