import { z } from 'zod';
import { bindHost, bool, httpUrl, logLevel, minFreeBytes, natsUrl, port, seconds, serveTlsShape } from '@muelle/service-kit';

export const registryConfigShape = {
  MUELLE_LOG_LEVEL: logLevel,
  MUELLE_BIND_HOST: bindHost,
  /** 5000: the port OCI tools expect of a private registry. */
  MUELLE_REGISTRY_PORT: port(5000),
  ...serveTlsShape,
  MUELLE_DATA_DIR: z.string().min(1).default('./data'),
  /** Below this many free bytes under the blob folder (filesystem driver) /readyz reports low disk. */
  MUELLE_MIN_FREE_BYTES: minFreeBytes,
  MUELLE_STORAGE_DRIVER: z.enum(['filesystem', 's3']).default('filesystem'),
  S3_ENDPOINT: httpUrl.optional(),
  S3_ACCESS_KEY: z.string().min(1).optional(),
  S3_SECRET_KEY: z.string().min(1).optional(),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name').default('muelle'),
  S3_REGION: z.string().min(1).default('us-east-1'),
  /**
   * Blob GETs answered with a 307 to a presigned S3 URL (after the pull is authorized), so bytes
   * flow from S3 to the client without passing through the registry. Off by default: clients
   * must reach S3_ENDPOINT themselves, which a private network's clients often cannot.
   */
  MUELLE_REGISTRY_S3_REDIRECT: z.preprocess((v) => (typeof v === 'boolean' ? String(v) : v), bool(false)),
  /** Lifetime of those presigned URLs: short, since anyone holding one can read the blob. */
  MUELLE_REGISTRY_S3_REDIRECT_SECONDS: seconds(60).pipe(z.number().int().min(1).max(3600, 'at most 3600 seconds')),
  /** Docker token auth (booleans accepted too: the all-in-one re-validates parsed values) on /v2 (on by default; `false` only for benchmarks and conformance runs). */
  MUELLE_REGISTRY_AUTH: z.preprocess((v) => (typeof v === 'boolean' ? String(v) : v), bool(true)),
  /** HMAC key (≥ 32 characters) for registry tokens; unset: one generated key kept in metadata, shared by replicas. */
  MUELLE_REGISTRY_TOKEN_KEY: z.string().min(32, 'at least 32 characters').optional(),
  MUELLE_REGISTRY_TOKEN_TTL_SECONDS: seconds(300).pipe(z.number().min(60, 'at least 60 seconds')),
  /** The `service` named in challenges and tokens (their audience). */
  MUELLE_REGISTRY_SERVICE: z.string().min(1).max(255).default('muelle-registry'),
  /** Base URL clients reach the registry at, for the token realm; default: from the request's Host header. */
  MUELLE_REGISTRY_PUBLIC_URL: httpUrl.optional(),
  /** Upload sessions idle for longer than this are purged with their bytes. */
  MUELLE_REGISTRY_UPLOAD_TTL_SECONDS: seconds(24 * 3600),
  /** How often GC and the upload purge run; 0 disables the background loop (GC can still be run by tests). */
  MUELLE_REGISTRY_GC_INTERVAL_SECONDS: z.coerce.number().nonnegative().default(3600),
  /** Nothing referenced or pushed within this window is collected: protects pushes in progress. */
  MUELLE_REGISTRY_GC_GRACE_SECONDS: z.coerce.number().nonnegative().default(7200),
  /** Untagged manifests older than this are deleted by GC; unset keeps them forever. */
  MUELLE_REGISTRY_GC_UNTAGGED_AFTER_SECONDS: z.coerce.number().nonnegative().optional(),
};

const requireS3 = (config: Record<string, unknown>, ctx: z.RefinementCtx) => {
  if (config.MUELLE_STORAGE_DRIVER !== 's3') {
    if (config.MUELLE_REGISTRY_S3_REDIRECT === true) {
      ctx.addIssue({ code: 'custom', path: ['MUELLE_REGISTRY_S3_REDIRECT'], message: 'needs MUELLE_STORAGE_DRIVER=s3' });
    }
    return;
  }
  for (const key of ['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']) {
    if (!config[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when MUELLE_STORAGE_DRIVER=s3' });
  }
};

export const registryConfigSchema = z.object({ ...registryConfigShape, NATS_URL: natsUrl }).superRefine(requireS3);
export const registryEmbeddedConfigSchema = z.object(registryConfigShape).superRefine(requireS3);
export type RegistryConfig = z.output<typeof registryEmbeddedConfigSchema>;
