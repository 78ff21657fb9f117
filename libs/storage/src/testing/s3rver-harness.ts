import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface RunningS3Server {
  endPoint: string;
  port: number;
  useSSL: false;
  accessKey: string;
  secretKey: string;
  /** Temporary directory holding the server's data; removed by stop(). */
  directory: string;
  stop(): Promise<void>;
}

/** s3rver accepts exactly this key pair. */
const S3RVER_CREDENTIALS = { accessKey: 'S3RVER', secretKey: 'S3RVER' };

/**
 * Starts a real S3-protocol server (s3rver) in this process on 127.0.0.1 with a free port
 * and a fresh temporary data directory. For tests: pass the result (plus a bucket) to
 * S3BlobStore.create(), and call stop() when done.
 */
export async function startS3Server(): Promise<RunningS3Server> {
  // Loaded lazily: s3rver is a dev dependency and this module is reachable from the lib's index.
  const { default: S3rver } = await import('s3rver');
  const directory = await mkdtemp(path.join(tmpdir(), 'muelle-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  let address;
  try {
    address = await server.run();
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    endPoint: '127.0.0.1',
    port: address.port,
    useSSL: false,
    ...S3RVER_CREDENTIALS,
    directory,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Kept-alive client sockets would otherwise hold close() open.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
