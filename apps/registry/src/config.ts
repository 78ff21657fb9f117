import { z } from 'zod';
import { bindHost, httpUrl, logLevel, natsUrl, port } from '@muelle/service-kit';

export const registryConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  /** 5000: the port OCI tools expect of a private registry. */
  MUELLE_REGISTRY_PORT: port(5000),
  MUELLE_DATA_DIR: z.string().min(1).default('./data'),
  MUELLE_STORAGE_DRIVER: z.enum(['filesystem', 's3']).default('filesystem'),
  S3_ENDPOINT: httpUrl.optional(),
  S3_ACCESS_KEY: z.string().min(1).optional(),
  S3_SECRET_KEY: z.string().min(1).optional(),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name').default('muelle'),
  S3_REGION: z.string().min(1).default('us-east-1'),
};

const requireS3 = (config: Record<string, unknown>, ctx: z.RefinementCtx) => {
  if (config.MUELLE_STORAGE_DRIVER !== 's3') return;
  for (const key of ['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']) {
    if (!config[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when MUELLE_STORAGE_DRIVER=s3' });
  }
};

export const registryConfigSchema = z.object({ ...registryConfigShape, NATS_URL: natsUrl }).superRefine(requireS3);
export const registryEmbeddedConfigSchema = z.object(registryConfigShape).superRefine(requireS3);
export type RegistryConfig = z.output<typeof registryEmbeddedConfigSchema>;
