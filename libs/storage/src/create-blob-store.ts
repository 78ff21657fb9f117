import type { BlobStore } from './blob-store';
import { FilesystemBlobStore } from './filesystem-blob-store';
import type { S3BlobStoreOptions } from './s3-blob-store';

export type FilesystemBlobStoreConfig = { driver: 'filesystem'; root: string };
export type S3BlobStoreConfig = { driver: 's3' } & S3BlobStoreOptions;
export type BlobStoreConfig = FilesystemBlobStoreConfig | S3BlobStoreConfig;

/**
 * Builds the configured driver and prepares it (creates the root directory or the bucket).
 * Rejects with StorageUnavailableError when the backend cannot be prepared.
 */
export async function createBlobStore(config: BlobStoreConfig): Promise<BlobStore> {
  switch (config.driver) {
    case 'filesystem':
      return FilesystemBlobStore.create(config.root);
    case 's3': {
      const { driver: _driver, ...options } = config;
      // Loaded only for this driver: the S3 client and its XML parsers cost ~0.2 s of CPU at every
      // start of a process that keeps blobs on disk (the embedded all-in-one's restart time).
      const { S3BlobStore } = await import('./s3-blob-store');
      return S3BlobStore.create(options);
    }
    default: {
      const unknown: never = config;
      throw new TypeError(`unknown blob store driver: ${JSON.stringify((unknown as { driver?: unknown }).driver)}`);
    }
  }
}
