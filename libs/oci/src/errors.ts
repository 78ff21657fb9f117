/**
 * Every error thrown on purpose by @muelle/oci. Each carries a stable `code`
 * string so callers (registry HTTP layer, agent, builder) can map it without
 * matching on messages. Codes that exist in the OCI distribution spec use the
 * spec's spelling so the registry can put them straight into an error body.
 */
export abstract class OciError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export type DigestProblem = 'grammar' | 'unsupported-algorithm' | 'encoding';

/** A digest string failed the grammar, names an algorithm we do not support, or has a bad encoded part. */
export class InvalidDigestError extends OciError {
  readonly code = 'DIGEST_INVALID';

  constructor(
    readonly digest: string,
    readonly problem: DigestProblem,
    detail: string,
  ) {
    super(`invalid digest ${JSON.stringify(truncate(digest))}: ${detail}`);
  }
}

/** A repository name does not match the distribution-spec grammar. */
export class InvalidNameError extends OciError {
  readonly code = 'NAME_INVALID';

  constructor(
    readonly repositoryName: string,
    detail: string,
  ) {
    super(`invalid repository name ${JSON.stringify(truncate(repositoryName))}: ${detail}`);
  }
}

/** A tag does not match `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
export class InvalidTagError extends OciError {
  readonly code = 'TAG_INVALID';

  constructor(readonly tag: string) {
    super(`invalid tag ${JSON.stringify(truncate(tag))}: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`);
  }
}

/** An image reference such as `host:5000/team/app:tag@sha256:…` could not be parsed. */
export class InvalidReferenceError extends OciError {
  readonly code = 'REFERENCE_INVALID';

  constructor(
    readonly reference: string,
    readonly detail: string,
  ) {
    super(`invalid image reference ${JSON.stringify(truncate(reference))}: ${detail}`);
  }
}

export type ManifestErrorCode = 'MANIFEST_INVALID' | 'DIGEST_INVALID' | 'UNSUPPORTED';

/** A manifest or index was rejected; `code` is the distribution-spec error code to answer with. */
export class ManifestInvalidError extends OciError {
  constructor(
    readonly code: ManifestErrorCode,
    message: string,
    /** JSON path of the offending field, e.g. `layers[2].digest`, when one is to blame. */
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
  }
}

/** An image config blob is not a JSON object. */
export class ImageConfigInvalidError extends OciError {
  readonly code = 'CONFIG_INVALID';
}

/**
 * A layer entry tried to leave the root, replace the root, or is otherwise
 * malformed (bad whiteout name, hardlink to a directory, escaping link target).
 * Extraction stops at the first such entry.
 */
export class UnsafeLayerEntryError extends OciError {
  readonly code = 'LAYER_ENTRY_UNSAFE';

  constructor(
    readonly entryPath: string,
    readonly detail: string,
  ) {
    super(`refusing layer entry ${JSON.stringify(truncate(entryPath))}: ${detail}`);
  }
}

/** The layer stream is not a readable tar (corrupt gzip, truncated archive, too many symlinks, …). */
export class LayerFormatError extends OciError {
  readonly code = 'LAYER_INVALID';
}

/** The layer uses something this build cannot handle (zstd on Node 20, overlay mode without privileged hooks). */
export class LayerUnsupportedError extends OciError {
  readonly code = 'LAYER_UNSUPPORTED';
}

/** Input to the layer writer is inconsistent (duplicate paths, size mismatch, bad entry). */
export class LayerWriteError extends OciError {
  readonly code = 'LAYER_WRITE_INVALID';
}

function truncate(value: string, max = 200): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
