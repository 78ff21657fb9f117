import { createBlobStore, type BlobStore } from '@muelle/storage';
import { join, resolve } from 'node:path';
import type { RegistryConfig } from '../config';

/** Builds the configured blob store: `<data dir>/registry` on disk, or an S3 bucket. */
export function openRegistryBlobStore(config: RegistryConfig): Promise<BlobStore> {
  if (config.MUELLE_STORAGE_DRIVER === 's3') {
    const endpoint = new URL(config.S3_ENDPOINT!);
    return createBlobStore({
      driver: 's3',
      endPoint: endpoint.hostname,
      port: endpoint.port ? Number(endpoint.port) : undefined,
      useSSL: endpoint.protocol === 'https:',
      accessKey: config.S3_ACCESS_KEY!,
      secretKey: config.S3_SECRET_KEY!,
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
    });
  }
  return createBlobStore({ driver: 'filesystem', root: join(resolve(config.MUELLE_DATA_DIR), 'registry') });
}
