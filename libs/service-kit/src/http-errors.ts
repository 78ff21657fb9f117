import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import { ErrorCode, MuelleError, retryAfterOf, toMuelleError } from '@muelle/contracts';
import type { Response } from 'express';
import type { Logger } from 'pino';
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
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const message = typeof exception.getResponse() === 'string' ? (exception.getResponse() as string) : exception.message;
      response.status(status).json({ error: { code: codeOfHttpStatus(status), message } });
      return;
    }
    const error = toMuelleError(exception);
    if (error.code === 'INTERNAL') this.logger.error({ err: exception }, 'unhandled error');
    for (const [name, value] of Object.entries(errorHeaders(error))) response.setHeader(name, value);
    response.status(httpStatusOf[error.code]).json(errorBody(error));
  }
}
