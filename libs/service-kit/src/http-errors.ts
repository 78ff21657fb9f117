import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import { ErrorCode, MuelleError, retryAfterOf, toMuelleError } from '@muelle/contracts';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { BadInputError } from './input-guard';
import { LOGGER } from './tokens';

/** The one table from typed errors to HTTP statuses for the /v1 API and service endpoints. */
export const httpStatusOf: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_MESSAGE: 400,
  UNAUTHENTICATED: 401,
  TOO_MANY_REQUESTS: 429,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
};

const codeOfHttpStatus = (status: number): ErrorCode =>
  status === 401 ? 'UNAUTHENTICATED' : status === 429 ? 'TOO_MANY_REQUESTS' : status === 403 ? 'PERMISSION_DENIED' : status === 404 ? 'NOT_FOUND' : status === 409 ? 'CONFLICT' : status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';

export function errorBody(error: MuelleError) {
  return { error: error.toWire() };
}

export interface HttpErrorAnswer {
  status: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
  /** A 5xx nobody expected: logged with its stack, answered without internals. */
  unexpected: boolean;
  /** Headers the status needs (`Retry-After` on 429). */
  headers: Record<string, string>;
}

/**
 * The one translation of anything thrown while serving HTTP into a status and a message: Nest's
 * HttpExceptions, errors of the body parsers and the input guard (4xx naming the limit or the
 * part at fault), typed Muelle errors (the table above). Both the /v1 and the Docker filters use it.
 */
export function httpErrorOf(exception: unknown): HttpErrorAnswer {
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const message = typeof exception.getResponse() === 'string' ? (exception.getResponse() as string) : exception.message;
    return { status, code: codeOfHttpStatus(status), message, unexpected: false, headers: {} };
  }
  const parserStatus = clientErrorStatusOf(exception);
  if (parserStatus) {
    const error = exception as Error & { type?: string; limit?: number };
    const message =
      error.type === 'entity.too.large' && error.limit !== undefined
        ? `request body is larger than the limit of ${error.limit} bytes`
        : error.type === 'entity.parse.failed' && !(exception instanceof BadInputError) && !/NUL byte/.test(error.message)
          ? `request body is not valid JSON: ${error.message}`
          : error.message;
    return { status: parserStatus, code: 'INVALID_ARGUMENT', message, unexpected: false, headers: {} };
  }
  const error = toMuelleError(exception);
  // A reply that failed its own contract is our bug, not the caller's input.
  if (error.code === 'INVALID_MESSAGE' && /^invalid reply from /.test(error.message)) return { status: 500, code: 'INTERNAL', message: 'internal error', unexpected: true, headers: {} };
  return { status: httpStatusOf[error.code], code: error.code, message: error.message, details: error.details, unexpected: error.code === 'INTERNAL', headers: errorHeaders(error) };
}

/** 4xx of the input guard and of body-parser/http-errors (`status` + `expose`), e.g. 413 entity.too.large. */
function clientErrorStatusOf(exception: unknown): number | undefined {
  if (exception instanceof BadInputError) return exception.status;
  const candidate = exception as { status?: unknown; statusCode?: unknown; expose?: unknown; type?: unknown } | null;
  const status = candidate?.status ?? candidate?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && candidate?.expose === true && typeof candidate.type === 'string') return status;
  return undefined;
}

/** Headers an error's status needs: `Retry-After` for 429 (RFC 9110 § 10.2.3). */
export function errorHeaders(error: MuelleError): Record<string, string> {
  return error.code === 'TOO_MANY_REQUESTS' ? { 'Retry-After': String(retryAfterOf(error)) } : {};
}

@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void | Observable<never> {
    // Bus handlers share this global filter: their errors go back as typed wire errors.
    if (host.getType() === 'rpc') {
      const wire = exception instanceof RpcException ? exception.getError() : toMuelleError(exception).toWire();
      return throwError(() => wire);
    }
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) return void response.end();
    const answer = httpErrorOf(exception);
    if (answer.unexpected) this.logger.error({ err: exception }, 'unhandled error');
    const error = { code: answer.code, message: answer.message, ...(answer.details !== undefined ? { details: answer.details } : {}) };
    for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
    response.status(answer.status).json({ error });
  }
}
