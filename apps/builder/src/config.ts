import { z } from 'zod';
import { bindHost, bool, logLevel, natsUrl, port, registryAddress, seconds, trustTlsShape } from '@muelle/service-kit';

export const builderConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  MUELLE_BUILDER_PORT: port(7102),
  /** Builder state lives in `<dir>/builder` (layer cache, snapshots, contexts being unpacked). */
  MUELLE_DATA_DIR: z.string().min(1).default('./data'),
  /** Registry for image references without a host (the platform registry). */
  MUELLE_REGISTRY_ADDRESS: registryAddress.default('127.0.0.1:5000'),
  ...trustTlsShape,
  /** The old name of MUELLE_INSECURE_REGISTRIES, still read (both lists are merged). */
  MUELLE_BUILDER_INSECURE_REGISTRIES: trustTlsShape.MUELLE_INSECURE_REGISTRIES,
  /** `ADD <url>` may fetch from private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7). Loopback, link-local and the platform's own addresses never. */
  MUELLE_BUILD_ALLOW_PRIVATE_NETWORKS: z.preprocess((v) => (typeof v === 'boolean' ? String(v) : v), bool(false)),
  /** Largest build context accepted (bytes, as uploaded: a gzip tar counts compressed). */
  MUELLE_BUILD_CONTEXT_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).default(2 * 1024 * 1024 * 1024),
  /** A streamed context that sends nothing for this long has lost its client (e.g. the api died): the build fails and stops holding its record `running`. */
  MUELLE_BUILD_CONTEXT_IDLE_SECONDS: seconds(60),
};
export const builderConfigSchema = z.object({ ...builderConfigShape, NATS_URL: natsUrl });
export type BuilderConfig = z.output<z.ZodObject<typeof builderConfigShape>>;
