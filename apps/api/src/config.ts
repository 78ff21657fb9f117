import { z } from 'zod';
import { bindHost, logLevel, natsUrl, port } from '@muelle/service-kit';

export const apiConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  /** 2375: where Docker clients look for an engine; /v1 is Muelle's own REST API. */
  MUELLE_API_PORT: port(2375),
};
export const apiConfigSchema = z.object({ ...apiConfigShape, NATS_URL: natsUrl });
export type ApiConfig = z.output<z.ZodObject<typeof apiConfigShape>>;
