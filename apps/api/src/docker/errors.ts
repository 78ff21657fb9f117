import { ArgumentsHost, Catch, ExceptionFilter, Inject } from '@nestjs/common';
import { httpErrorOf, LOGGER } from '@muelle/service-kit';
import type { Response } from 'express';
import type { Logger } from 'pino';

/** A Docker Engine API endpoint or option Muelle does not implement: 501 (endpoint) or 400 (option). */
export class NotSupportedByMuelleError extends Error {
  constructor(
    what: string,
    readonly status: 400 | 501 = 501,
  ) {
    super(`${what} is not supported by Muelle`);
    this.name = 'NotSupportedByMuelleError';
  }
}

/** Status and Docker-shaped body (`{"message": …}`) for any error thrown by the Docker layer. */
export function dockerError(error: unknown): { status: number; message: string; headers?: Record<string, string> } {
  if (error instanceof NotSupportedByMuelleError) return { status: error.status, message: error.message };
  const { status, message, headers } = httpErrorOf(error);
  return { status, message, headers };
}

/**
 * The docker CLI parses error bodies only when they are exactly `application/json` and reads
 * `message`; Muelle's /v1 shape (`{error: {code, message}}`) would show as raw text.
 */
@Catch()
export class DockerErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { status, message, headers } = dockerError(exception);
    if (status >= 500 && status !== 501) this.logger.error({ err: exception }, 'docker api request failed');
    if (response.headersSent) {
      // A stream already started: report in-band, the way the engine does for progress streams.
      if (!response.writableEnded) response.end(JSON.stringify({ errorDetail: { message }, error: message }) + '\n');
      return;
    }
    // Exactly `application/json` (no charset): anything else and the CLI prints the raw body.
    for (const [name, value] of Object.entries(headers ?? {})) response.setHeader(name, value);
    response.status(status).setHeader('Content-Type', 'application/json');
    response.end(JSON.stringify({ message }));
  }
}
