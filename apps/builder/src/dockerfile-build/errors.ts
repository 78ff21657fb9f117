import { ErrorCode, MuelleError, type BuildFailureDetails } from '@muelle/contracts';
import { DockerfileError, DockerfileSemanticError, DockerfileSyntaxError } from '@muelle/dockerfile';

type Kind = BuildFailureDetails['kind'];

/** Why a build stopped. User mistakes are INVALID_ARGUMENT; registry trouble UNAVAILABLE. */
export class BuildFailedError extends MuelleError {
  constructor(
    message: string,
    readonly failure: BuildFailureDetails,
  ) {
    super(codeFor(failure.kind), message, failure);
  }

  static of(kind: Kind, message: string, extra: Omit<BuildFailureDetails, 'kind'> = {}): BuildFailedError {
    return new BuildFailedError(message, { kind, ...extra });
  }
}

function codeFor(kind: Kind): ErrorCode {
  switch (kind) {
    case 'push':
    case 'base-image':
      return ErrorCode.Unavailable;
    case 'internal':
      return ErrorCode.Internal;
    case 'url-refused':
      return ErrorCode.PermissionDenied;
    default:
      return ErrorCode.InvalidArgument;
  }
}

/** Maps parser errors to build failures carrying the position. */
export function asBuildError(error: unknown): Error {
  if (error instanceof BuildFailedError) return error;
  if (error instanceof DockerfileSyntaxError) {
    const kind = /unknown instruction/i.test(error.detail) ? 'unknown-instruction' : 'dockerfile-syntax';
    return BuildFailedError.of(kind, error.message, { line: error.line, column: error.column });
  }
  if (error instanceof DockerfileSemanticError) {
    const kind = /circular/i.test(error.detail) ? 'stage-cycle' : /could not be found|invalid stage|needs to be defined/i.test(error.detail) ? 'unknown-stage' : 'dockerfile-syntax';
    return BuildFailedError.of(kind, error.message, error.line === undefined ? {} : { line: error.line });
  }
  if (error instanceof DockerfileError) {
    const line = (error as { line?: number }).line;
    return BuildFailedError.of('dockerfile-syntax', error.message, line === undefined ? {} : { line });
  }
  return error instanceof Error ? error : new Error(String(error));
}
