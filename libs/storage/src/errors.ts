// Typed errors of the blob storage library. Callers map them to protocol answers
// (e.g. the registry: BlobNotFoundError → 404, RangeNotSatisfiableError → 416,
// StorageUnavailableError → 503, StorageFullError → 507) without inspecting driver-specific error shapes.

export class StorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BlobNotFoundError extends StorageError {
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`blob not found: ${key}`, options);
  }
}

export class InvalidKeyError extends StorageError {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid storage key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)}: ${reason}`);
  }
}

/** The backend cannot be reached or is not usable right now (network down, bucket or root directory missing). */
export class StorageUnavailableError extends StorageError {}

/**
 * The backend has no space left (ENOSPC, a quota, S3's "storage full"). Not transient like
 * StorageUnavailableError: retrying does not help until someone frees space, so callers answer
 * with a final error instead of "try again".
 */
export class StorageFullError extends StorageError {}

export class RangeNotSatisfiableError extends StorageError {
  constructor(
    readonly key: string,
    readonly range: { start: number; end: number },
    /** Size of the object, when known. */
    readonly size?: number,
  ) {
    super(
      `range ${range.start}-${range.end} is not satisfiable for ${key}` + (size === undefined ? '' : ` (size ${size})`),
    );
  }
}
