import { InvalidDigestError, InvalidNameError, InvalidTagError } from './errors';

/**
 * Anchored validators from the OCI distribution spec (§ "Pulling manifests")
 * and image-spec `descriptor.md`. Everything that later becomes a storage key
 * or a filesystem path must pass through one of these first.
 */

const PATH_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';

export const REPOSITORY_NAME_PATTERN = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
export const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Generic digest grammar: `algorithm ":" encoded`. */
export const DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Upload session ids are server-generated lowercase UUIDs (crypto.randomUUID()). */
export const UPLOAD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** distribution `api.md`: the whole repository name must stay under 256 characters. */
export const MAX_REPOSITORY_NAME_LENGTH = 255;

export type DigestAlgorithm = 'sha256' | 'sha512';

export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex, 64 (sha256) or 128 (sha512) characters. */
  encoded: string;
}

export function isValidRepositoryName(name: string): boolean {
  return typeof name === 'string' && name.length <= MAX_REPOSITORY_NAME_LENGTH && REPOSITORY_NAME_PATTERN.test(name);
}

export function assertValidRepositoryName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidNameError(String(name), 'empty');
  if (name.length > MAX_REPOSITORY_NAME_LENGTH) {
    throw new InvalidNameError(name, `longer than ${MAX_REPOSITORY_NAME_LENGTH} characters`);
  }
  if (!REPOSITORY_NAME_PATTERN.test(name)) {
    throw new InvalidNameError(name, 'must be lowercase path components separated by "/", each matching [a-z0-9]+((.|_|__|-+)[a-z0-9]+)*');
  }
}

export function isValidTag(tag: string): boolean {
  return typeof tag === 'string' && TAG_PATTERN.test(tag);
}

export function assertValidTag(tag: string): void {
  if (!isValidTag(tag)) throw new InvalidTagError(String(tag));
}

export function isValidUploadId(id: string): boolean {
  return typeof id === 'string' && UPLOAD_ID_PATTERN.test(id);
}

function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

/**
 * Parses `sha256:<64 hex>` / `sha512:<128 hex>`. Throws InvalidDigestError with
 * `problem` = 'grammar' (not a digest at all), 'unsupported-algorithm'
 * (well-formed but not sha256/sha512) or 'encoding' (wrong length or case).
 */
export function parseDigest(digest: string): ParsedDigest {
  if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
    throw new InvalidDigestError(String(digest), 'grammar', 'expected <algorithm>:<encoded>');
  }
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new InvalidDigestError(digest, 'unsupported-algorithm', `algorithm "${algorithm}" is not supported (sha256, sha512)`);
  }
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (encoded.length !== length || !/^[0-9a-f]+$/.test(encoded)) {
    throw new InvalidDigestError(digest, 'encoding', `${algorithm} needs exactly ${length} lowercase hex characters`);
  }
  return { algorithm, encoded };
}

export function isValidDigest(digest: string): boolean {
  try {
    parseDigest(digest);
    return true;
  } catch {
    // The predicate form of parseDigest: its error is the answer.
    return false;
  }
}

/**
 * Tag a client uses for the referrers fallback (distribution-spec "Referrers
 * Tag Schema"): `<alg>-<encoded>`, algorithm cut to 32 and encoded to 64
 * characters, characters not allowed in tags replaced by `-`.
 */
export function referrersTagFor(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${clean(algorithm.slice(0, 32))}-${clean(encoded.slice(0, 64))}`;
}
