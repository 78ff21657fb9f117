import { createBlobStore, type BlobStore } from '@muelle/storage';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config';
import { unlessAbsent } from '@muelle/service-kit';

/** The filesystem driver's root: `<data dir>/registry`. */
export const registryBlobRoot = (config: RegistryConfig): string => join(resolve(config.MUELLE_DATA_DIR), 'registry');

/** Builds the configured blob store: `<data dir>/registry` on disk, or an S3 bucket. */
export async function openRegistryBlobStore(config: RegistryConfig, logger?: Logger): Promise<BlobStore> {
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
  const root = registryBlobRoot(config);
  await removeStagingLeftovers(join(root, '.tmp'), logger);
  return createBlobStore({ driver: 'filesystem', root });
}

/**
 * Half-written blobs in the filesystem driver's staging folder: a write lands there first and is
 * renamed into place only once complete, so anything older than this process belongs to a writer
 * that died (the data folder's lock makes us the only process here).
 */
async function removeStagingLeftovers(staging: string, logger?: Logger): Promise<void> {
  const startedAt = Date.now() - process.uptime() * 1000;
  const names = await readdir(staging).catch(() => [] as string[]); // none yet: a new store
  let removed = 0;
  for (const name of names) {
    const info = await unlessAbsent(stat(join(staging, name)), undefined);
    if (!info || info.mtimeMs >= startedAt) continue;
    await rm(join(staging, name), { recursive: true, force: true });
    removed++;
  }
  if (removed) logger?.warn({ files: removed, staging }, 'removed half-written blobs left by an unclean stop');
}
