import { MuelleError, RegistryErrorCode, retryAfterOf } from '@muelle/contracts';
import { OciError } from '@muelle/oci';
import { BlobNotFoundError, RangeNotSatisfiableError, StorageFullError, StorageUnavailableError } from '@muelle/storage';

/** Error codes of the distribution spec (§ error codes) plus the Docker extras clients know. */
export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNAVAILABLE'
  | 'UNKNOWN';

const DEFAULT_STATUS: Record<OciErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  PAGINATION_NUMBER_INVALID: 400,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
};

/** An answer of the /v2 API: one spec error code, its HTTP status, and optional headers (challenge, Range). */
export class RegistryError extends Error {
  readonly status: number;

  constructor(
    readonly code: OciErrorCode,
    message: string,
    readonly detail?: unknown,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'RegistryError';
    this.status = options.status ?? DEFAULT_STATUS[code];
    this.headers = options.headers ?? {};
  }

  readonly headers: Record<string, string>;

  body() {
    return { errors: [{ code: this.code, message: this.message, ...(this.detail !== undefined ? { detail: this.detail } : {}) }] };
  }
}

const BUS_REGISTRY_CODES: Record<RegistryErrorCode, OciErrorCode> = {
  BLOB_UNKNOWN: 'BLOB_UNKNOWN',
  BLOB_UPLOAD_UNKNOWN: 'BLOB_UPLOAD_UNKNOWN',
  MANIFEST_UNKNOWN: 'MANIFEST_UNKNOWN',
  MANIFEST_BLOB_UNKNOWN: 'MANIFEST_BLOB_UNKNOWN',
  NAME_UNKNOWN: 'NAME_UNKNOWN',
  BLOB_BEING_COLLECTED: 'UNAVAILABLE',
};

/**
 * The ONE mapping from anything thrown while serving /v2 to a spec error: our own RegistryError,
 * typed errors from metadata over the bus (their `details.registryCode`), @muelle/oci validation
 * errors and storage errors. Everything else is a 500 UNKNOWN without internals.
 */
export function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof MuelleError) {
    const details = (error.details ?? {}) as { registryCode?: RegistryErrorCode; digests?: string[] };
    const mapped = details.registryCode ? BUS_REGISTRY_CODES[details.registryCode] : undefined;
    if (mapped) return new RegistryError(mapped, error.message, details.digests ? { digests: details.digests } : undefined);
    switch (error.code) {
      case 'NOT_FOUND':
        return new RegistryError('NAME_UNKNOWN', error.message);
      case 'UNAVAILABLE':
      case 'TIMEOUT':
        return new RegistryError('UNAVAILABLE', error.message, undefined, { headers: { 'Retry-After': '1' } });
      case 'UNAUTHENTICATED':
        return new RegistryError('UNAUTHORIZED', error.message);
      case 'TOO_MANY_REQUESTS':
        return new RegistryError('TOOMANYREQUESTS', error.message, undefined, { headers: { 'Retry-After': String(retryAfterOf(error)) } });
      case 'PERMISSION_DENIED':
        return new RegistryError('DENIED', error.message);
      case 'INVALID_ARGUMENT':
      case 'INVALID_MESSAGE':
        return invalidInput(error);
      default:
        return new RegistryError('UNKNOWN', 'internal error');
    }
  }
  if (error instanceof OciError) {
    const code = error.code as OciErrorCode;
    if (code in DEFAULT_STATUS) return new RegistryError(code, error.message);
    return new RegistryError('MANIFEST_INVALID', error.message);
  }
  if (error instanceof BlobNotFoundError) return new RegistryError('BLOB_UNKNOWN', 'blob content not found');
  if (error instanceof RangeNotSatisfiableError) return new RegistryError('RANGE_INVALID', error.message);
  if (error instanceof StorageFullError) return storageFull();
  if (error instanceof StorageUnavailableError) return new RegistryError('UNAVAILABLE', 'storage unavailable', undefined, { headers: { 'Retry-After': '1' } });
  return new RegistryError('UNKNOWN', 'internal error');
}

/**
 * A full disk is final, not "try again": 507 Insufficient Storage (RFC 4918 § 11.5) without
 * Retry-After, under the spec's DENIED code, which Docker, containerd and skopeo do not retry.
 * The message says what to do; the storage's path stays in the log, not in the answer.
 */
function storageFull(): RegistryError {
  return new RegistryError('DENIED', 'no space left on the storage of the registry: free space or run `muelle system prune`, then push again', undefined, {
    status: 507,
  });
}

/**
 * The request broke a limit of the bus contract (checked before anything is sent: a manifest with
 * more than 10 000 references, a `last` longer than a tag). A reply that broke its own contract is
 * our bug and stays a 500.
 */
function invalidInput(error: MuelleError): RegistryError {
  const subject = /^invalid (request for|reply from) (\S+):/.exec(error.message);
  if (subject?.[1] === 'reply from') return new RegistryError('UNKNOWN', 'internal error');
  const issues = (error.details as { issues?: { path: string; message: string }[] } | undefined)?.issues;
  const message = issues?.length ? issues.map((i) => `${i.path || 'request'}: ${i.message}`).join('; ') : error.message;
  const code: OciErrorCode = /\.manifests\./.test(subject?.[2] ?? '') ? 'MANIFEST_INVALID' : /\.(tags|catalog)\./.test(subject?.[2] ?? '') ? 'PAGINATION_NUMBER_INVALID' : 'NAME_INVALID';
  return new RegistryError(code, `over a limit of the registry: ${message}`);
}

export function isInternal(error: RegistryError): boolean {
  return error.status >= 500;
}
