import { ArgumentsHost, Catch, ExceptionFilter, Inject } from '@nestjs/common';
import { ErrorCode, MuelleError } from '@muelle/contracts';
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

/** A Muelle error answered with the status dockerd gives that case where it differs from Muelle's mapping. */
export class DockerStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerStatusError';
  }
}

/**
 * Runs `work`; an error whose code is in `statuses` keeps its message and gets dockerd's status
 * (e.g. network connect of a connected container: 403 where Muelle's CONFLICT is 409).
 */
export async function withDockerStatus<T>(work: Promise<T>, statuses: Partial<Record<ErrorCode, number>>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    const status = error instanceof MuelleError ? statuses[error.code] : undefined;
    throw status ? new DockerStatusError(status, error instanceof Error ? error.message : String(error)) : error;
  }
}

/** Status and Docker-shaped body (`{"message": …}`) for any error thrown by the Docker layer. */
export function dockerError(error: unknown): { status: number; message: string; headers?: Record<string, string> } {
  if (error instanceof NotSupportedByMuelleError || error instanceof DockerStatusError) return { status: error.status, message: error.message };
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
    // dockerd's own 500s for a caller's mistake (DockerStatusError) are answers, not faults.
    if (status >= 500 && status !== 501 && !(exception instanceof DockerStatusError)) this.logger.error({ err: exception }, 'docker api request failed');
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
