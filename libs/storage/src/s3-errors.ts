// What an S3 server's (or minio client's) error means for a caller: missing, unavailable, full.

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
]);
const UNAVAILABLE_S3_CODES = new Set(['NoSuchBucket', 'ServiceUnavailable', 'SlowDown', 'InternalError', 'RequestTimeout']);
/** MinIO's answers when its drives reached their free-space threshold or a bucket its quota. */
export const FULL_S3_CODES = new Set(['XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded']);

export function s3Code(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function isNotFound(err: unknown): boolean {
  const code = s3Code(err);
  return code === 'NotFound' || code === 'NoSuchKey';
}

export function isUnavailable(err: unknown): boolean {
  const code = s3Code(err);
  if (code && (NETWORK_ERROR_CODES.has(code) || UNAVAILABLE_S3_CODES.has(code))) return true;
  // minio reports exhausted retries of 5xx answers only through the message.
  return err instanceof Error && /Retryable HTTP status|Request failed after \d+ retries/.test(err.message);
}
