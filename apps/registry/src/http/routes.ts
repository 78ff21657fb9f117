import { isValidTag, isValidUploadId, MAX_REPOSITORY_NAME_LENGTH, parseDigest, REPOSITORY_NAME_PATTERN } from '@muelle/oci';
import { RegistryError } from '../errors';

/** One /v2 endpoint with its validated parameters; `reference` is a tag or a parsed digest. */
export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'token' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: { tag: string } | { digest: string } }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: string };

export interface ParsedRequest {
  route: Route;
  query: URLSearchParams;
}

// Anchored patterns on the RAW path (distribution's mux does the same). The name is greedy and
// validated afterwards, so names containing "blobs" or "manifests" components still work.
const PATTERNS: { kind: Route['kind']; pattern: RegExp }[] = [
  { kind: 'uploads', pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/ },
  { kind: 'upload', pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/ },
  { kind: 'blob', pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/ },
  { kind: 'manifest', pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/ },
  { kind: 'tags', pattern: /^\/v2\/(.+)\/tags\/list$/ },
  { kind: 'referrers', pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/ },
];

/** Methods each endpoint answers; anything else is 405 UNSUPPORTED. */
export const METHODS: Record<Route['kind'], string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  token: ['GET', 'POST'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

const MAX_URL_LENGTH = 8192;

/**
 * Parses a request target (`/v2/...?...`, exactly as received) into a route, or throws the
 * RegistryError the spec asks for. Returns null when the path is not under /v2 at all.
 * Nothing here decodes the path: `%2F`, `%2E`, backslashes and dot segments are refused
 * before any name, tag or digest can reach a storage key.
 */
export function parseRequestTarget(method: string, target: string): ParsedRequest | null {
  const queryAt = target.indexOf('?');
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  if (path !== '/v2' && !path.startsWith('/v2/')) return null;
  if (target.length > MAX_URL_LENGTH) throw new RegistryError('NAME_INVALID', 'request URL too long', undefined, { status: 414 });
  const query = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1));

  if (path === '/v2' || path === '/v2/') return { route: checkMethod(method, { kind: 'base' }), query };
  if (path === '/v2/_catalog') return { route: checkMethod(method, { kind: 'catalog' }), query };
  if (path === '/v2/token') return { route: checkMethod(method, { kind: 'token' }), query };

  if (/[%\\]|\/\/|\/\.\.?(\/|$)/.test(path.replace(/%3[aA]/g, ':'))) {
    throw new RegistryError('NAME_INVALID', 'invalid characters or dot segments in the request path');
  }
  const clean = path.replace(/%3[aA]/g, ':');
  for (const { kind, pattern } of PATTERNS) {
    const match = pattern.exec(clean);
    if (!match) continue;
    const name = match[1];
    const last = match[2];
    const route = buildRoute(method, kind, name, last);
    return { route: checkMethod(method, route), query };
  }
  throw new RegistryError('NAME_INVALID', 'no such endpoint', undefined, { status: 404 });
}

function buildRoute(method: string, kind: Route['kind'], name: string, last: string | undefined): Route {
  assertName(name);
  switch (kind) {
    case 'uploads':
      return { kind, name };
    case 'upload':
      if (!isValidUploadId(last!)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'unknown upload id');
      return { kind, name, id: last! };
    case 'blob':
      return { kind, name, digest: digestParam(last!) };
    case 'referrers':
      return { kind, name, digest: digestParam(last!) };
    case 'tags':
      return { kind, name };
    case 'manifest': {
      if (last!.includes(':')) return { kind, name, reference: { digest: digestParam(last!) } };
      if (!isValidTag(last!)) {
        // v1.1.1 conformance: an invalid tag on GET/HEAD (and DELETE) is simply not found.
        if (method === 'PUT') throw new RegistryError('TAG_INVALID', `invalid tag ${JSON.stringify(last!.slice(0, 140))}`);
        throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown (invalid tag)');
      }
      return { kind, name, reference: { tag: last! } };
    }
    default:
      throw new RegistryError('NAME_INVALID', 'no such endpoint', undefined, { status: 404 });
  }
}

function assertName(name: string): void {
  if (name.length > MAX_REPOSITORY_NAME_LENGTH || !REPOSITORY_NAME_PATTERN.test(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: name.slice(0, 300) });
  }
}

/** A digest from the path or query: 400 DIGEST_INVALID unless `sha256:<64 hex>` or `sha512:<128 hex>`. */
export function digestParam(value: string): string {
  try {
    parseDigest(value);
    return value;
  } catch (error) {
    throw new RegistryError('DIGEST_INVALID', (error as Error).message);
  }
}

/** A repository name from the query (`from=`); null when it is not a valid name. */
export function nameParam(value: string | null): string | null {
  return value !== null && value.length <= MAX_REPOSITORY_NAME_LENGTH && REPOSITORY_NAME_PATTERN.test(value) ? value : null;
}

function checkMethod(method: string, route: Route): Route {
  if (!METHODS[route.kind].includes(method)) {
    throw new RegistryError('UNSUPPORTED', `${method} is not supported here`, undefined, { status: 405, headers: { Allow: METHODS[route.kind].join(', ') } });
  }
  return route;
}

/** `n` of tags/list and _catalog: absent → fallback; negative or not a number → 400 PAGINATION_NUMBER_INVALID; clamped to max. */
export function paginationNumber(value: string | null, fallback: number, max: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `invalid page size ${JSON.stringify(value.slice(0, 20))}`);
  return Math.min(Number(value), max);
}

/** Request `Content-Range` of a chunk: `<start>-<end>` inclusive (a `bytes=`/`bytes ` prefix and `/total` are tolerated). */
export function parseChunkRange(value: string | undefined): { start: number; end: number } | null | 'invalid' {
  if (value === undefined) return null;
  const match = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:\/(?:\d+|\*))?$/.exec(value.trim());
  if (!match) return 'invalid';
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) return 'invalid';
  return { start, end };
}

/** Blob GET `Range`: a single `bytes=a-b`, `bytes=a-` or `bytes=-n`; null when absent or not one range (ignored, full body). */
export function parseBlobRange(value: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!value) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return 'unsatisfiable';
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
