/** Where the Docker Engine API routes live inside the Nest app; requests are rewritten onto it. */
export const DOCKER_PREFIX = '/docker-engine';

/** Highest Docker API version Muelle speaks, and the lowest it accepts in a path. */
export const DOCKER_API_VERSION = '1.43';
export const DOCKER_MIN_API_VERSION = '1.24';

const VERSIONED = /^\/v(\d+\.\d+)(\/.*)?$/;
/** First path segments of the Docker Engine API (unversioned form); `/v1/...` is Muelle's own API. */
const DOCKER_ROOTS = new Set([
  '_ping',
  'version',
  'info',
  'events',
  'auth',
  'images',
  'containers',
  'exec',
  'build',
  'commit',
  'system',
  'networks',
  'volumes',
  'plugins',
  'swarm',
  'nodes',
  'services',
  'tasks',
  'secrets',
  'configs',
  'distribution',
  'session',
  'grpc',
]);

export interface DockerPath {
  /** Path without the version prefix, e.g. `/containers/json`. */
  path: string;
  /** `1.41` when the client asked for a versioned path. */
  version: string | null;
  query: string;
}

/** Recognises a Docker Engine API request URL; null for everything else (Muelle's /v1, health…). */
export function matchDockerPath(url: string): DockerPath | null {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  const versioned = VERSIONED.exec(pathname);
  if (versioned) return { path: versioned[2] || '/', version: versioned[1], query };
  const root = pathname.split('/')[1] ?? '';
  if (DOCKER_ROOTS.has(root)) return { path: pathname, version: null, query };
  return null;
}

/** `/v1.41/containers/json?all=1` → `/docker-engine/containers/json?all=1`; other URLs unchanged. */
export function rewriteDockerUrl(url: string): string {
  const match = matchDockerPath(url);
  return match ? `${DOCKER_PREFIX}${match.path}${firstValuesOnly(match.query)}` : url;
}

function decodedKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // A broken escape: the input guard refuses the whole request anyway.
    return raw;
  }
}

/** Query keys Docker reads as lists (`docker build -t a -t b`, `docker save a b`); every other key is read once. */
const DOCKER_LIST_KEYS = new Set(['t', 'names']);

/**
 * Docker's engine reads a repeated query key by its first value (Go's `Form.Get`); Express would
 * hand the handlers an array where they expect a string. Keeps the first of each, except list keys.
 */
function firstValuesOnly(query: string): string {
  if (!query.includes('&')) return query;
  const seen = new Set<string>();
  const kept = query
    .slice(1)
    .split('&')
    .filter((pair) => {
      const key = decodedKey(pair.split('=')[0]);
      if (DOCKER_LIST_KEYS.has(key) || !seen.has(key)) return seen.add(key), true;
      return false;
    });
  return `?${kept.join('&')}`;
}
