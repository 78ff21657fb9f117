import { ErrorCode, MuelleError, type BuildFailureDetails } from '@muelle/contracts';

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
