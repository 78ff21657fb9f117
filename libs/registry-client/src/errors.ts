/** A registry answered with an error; `code` is the first OCI error code of its body when it sent one. */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export class RegistryAuthError extends RegistryError {
  constructor(message: string, status = 401) {
    super(message, status, status === 403 ? 'DENIED' : 'UNAUTHORIZED');
    this.name = 'RegistryAuthError';
  }
}

export class RegistryNotFoundError extends RegistryError {
  constructor(message: string, code = 'NOT_FOUND') {
    super(message, 404, code);
    this.name = 'RegistryNotFoundError';
  }
}

/** What came back does not hash to the digest it was asked for: never used, never stored. */
export class DigestMismatchError extends RegistryError {
  constructor(expected: string, actual: string) {
    super(`content digest mismatch: expected ${expected}, got ${actual}`, 0, 'DIGEST_INVALID');
    this.name = 'DigestMismatchError';
  }
}

export class RegistryUnreachableError extends RegistryError {
  constructor(
    message: string,
    /** The socket's error code (`ECONNREFUSED`, `EPROTO`…), when there was one. */
    readonly socketCode?: string,
  ) {
    super(message, 0, 'UNAVAILABLE');
    this.name = 'RegistryUnreachableError';
  }
}
