/**
 * Transport-neutral errors. Every service throws these; the bus carries them as
 * `{ code, message, details }`, and each protocol edge (HTTP /v1, OCI /v2, Docker API)
 * maps the code to its own status in one place.
 */
export const ErrorCode = {
  InvalidArgument: 'INVALID_ARGUMENT',
  InvalidMessage: 'INVALID_MESSAGE',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Unauthenticated: 'UNAUTHENTICATED',
  TooManyRequests: 'TOO_MANY_REQUESTS',
  PermissionDenied: 'PERMISSION_DENIED',
  Unavailable: 'UNAVAILABLE',
  Timeout: 'TIMEOUT',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export class MuelleError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export class InvalidArgumentError extends MuelleError {
  constructor(message: string, details?: unknown) {
    super(ErrorCode.InvalidArgument, message, details);
  }
}
/** A bus message that does not match its contract's schema. */
export class InvalidMessageError extends MuelleError {
  constructor(message: string, details?: unknown) {
    super(ErrorCode.InvalidMessage, message, details);
  }
}
export class NotFoundError extends MuelleError {
  constructor(message: string, details?: unknown) {
    super(ErrorCode.NotFound, message, details);
  }
}
export class ConflictError extends MuelleError {
  constructor(message: string, details?: unknown) {
    super(ErrorCode.Conflict, message, details);
  }
}
export class UnauthenticatedError extends MuelleError {
  constructor(message = 'authentication required', details?: unknown) {
    super(ErrorCode.Unauthenticated, message, details);
  }
}
/** Too many failed logins: `details.retryAfterSeconds` says when to try again (HTTP 429 + Retry-After). */
export class TooManyRequestsError extends MuelleError {
  constructor(message: string, details: { retryAfterSeconds: number } = { retryAfterSeconds: 60 }) {
    super(ErrorCode.TooManyRequests, message, details);
  }

  get retryAfterSeconds(): number {
    return retryAfterOf(this);
  }
}

/** The wait a TOO_MANY_REQUESTS error asks for, in whole seconds (at least 1). */
export function retryAfterOf(error: MuelleError): number {
  const seconds = Number((error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds);
  return Number.isFinite(seconds) && seconds >= 1 ? Math.ceil(seconds) : 1;
}

export class PermissionDeniedError extends MuelleError {
  constructor(message = 'permission denied', details?: unknown) {
    super(ErrorCode.PermissionDenied, message, details);
  }
}
export class UnavailableError extends MuelleError {
  constructor(message: string, details?: unknown) {
    super(ErrorCode.Unavailable, message, details);
  }
}
export class TimeoutError extends MuelleError {
  constructor(message: string, details?: unknown) {
    super(ErrorCode.Timeout, message, details);
  }
}
export class InternalError extends MuelleError {
  constructor(message = 'internal error', details?: unknown) {
    super(ErrorCode.Internal, message, details);
  }
}

const byCode: Record<ErrorCode, new (message: string, details?: unknown) => MuelleError> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  INVALID_MESSAGE: InvalidMessageError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  UNAUTHENTICATED: UnauthenticatedError,
  TOO_MANY_REQUESTS: TooManyRequestsError as new (message: string, details?: unknown) => MuelleError,
  PERMISSION_DENIED: PermissionDeniedError,
  UNAVAILABLE: UnavailableError,
  TIMEOUT: TimeoutError,
  INTERNAL: InternalError,
};

export function isWireError(value: unknown): value is WireError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as WireError).code === 'string' &&
    typeof (value as WireError).message === 'string' &&
    (value as WireError).code in byCode
  );
}

/** Rebuilds the typed error on the receiving side of the bus. */
export function fromWire(wire: WireError): MuelleError {
  return new byCode[wire.code](wire.message, wire.details);
}

/** Any thrown value → a typed error; unknown failures become INTERNAL without leaking internals. */
export function toMuelleError(error: unknown): MuelleError {
  if (error instanceof MuelleError) return error;
  if (isWireError(error)) return fromWire(error);
  return new InternalError();
}
