import { z } from 'zod';
import { bindHost, logLevel, natsUrl, port } from '@muelle/service-kit';

export const builderConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  MUELLE_BUILDER_PORT: port(7102),
  MUELLE_DATA_DIR: z.string().min(1).default('./data'),
};
export const builderConfigSchema = z.object({ ...builderConfigShape, NATS_URL: natsUrl });
export type BuilderConfig = z.output<z.ZodObject<typeof builderConfigShape>>;
