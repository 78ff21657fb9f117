import { z } from 'zod';
import { bindHost, logLevel, natsUrl, port, postgresUrl, seconds } from '@muelle/service-kit';

export const metadataConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  MUELLE_METADATA_PORT: port(7101),
  MUELLE_DATA_DIR: z.string().min(1).default('./data'),
  /** A PostgreSQL server; when unset, an embedded PGlite database lives in MUELLE_DATA_DIR/db. */
  DATABASE_URL: postgresUrl.optional(),
  MUELLE_ADMIN_USER: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, . _ - (max 64)').default('admin'),
  MUELLE_ADMIN_PASSWORD: z.string().min(8, 'at least 8 characters').max(1024).optional(),
  MUELLE_HOST_DOWN_AFTER_SECONDS: seconds(15),
  /** The event history (`events --since`) keeps at most this many events… */
  MUELLE_EVENTS_KEEP_COUNT: z.coerce.number().int().min(1).default(10_000),
  /** …none older than this (default a week). */
  MUELLE_EVENTS_KEEP_SECONDS: seconds(7 * 24 * 3600),
};

/** The standalone metadata service needs NATS; inside the all-in-one the bus is in-process. */
export const metadataConfigSchema = z.object({ ...metadataConfigShape, NATS_URL: natsUrl });
export type MetadataConfig = z.output<z.ZodObject<typeof metadataConfigShape>>;
