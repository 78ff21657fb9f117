import { PermissionDeniedError } from '@muelle/contracts';
import type { IncomingHttpHeaders } from 'node:http';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a browser-sent request must be refused, or null. Browsers mark cross-site requests: with
 * `Origin` on every non-GET request (and on WebSocket handshakes) and `Sec-Fetch-Site`. A
 * state-changing request (or any WebSocket upgrade) passes only from the api's own origin (same
 * host and port as the `Host` it was sent to) or an allowed one. Non-browser clients (the CLI,
 * docker, curl) send neither header and pass.
 */
export function crossSiteRefusal(method: string, headers: IncomingHttpHeaders, allowedOrigins: readonly string[], upgrade = false): string | null {
  if (!upgrade && SAFE_METHODS.has(method.toUpperCase())) return null;
  const origin = single(headers.origin);
  if (origin !== undefined) {
    if (origin !== 'null' && (allowedOrigins.includes(origin) || sameHost(origin, single(headers.host)))) return null;
    return `requests from the web origin ${origin} are refused (not this api's origin nor in MUELLE_ALLOWED_ORIGINS)`;
  }
  if (single(headers['sec-fetch-site'])?.toLowerCase() === 'cross-site') return 'cross-site browser requests are refused (Sec-Fetch-Site: cross-site)';
  return null;
}

export function refuseCrossSite(method: string, headers: IncomingHttpHeaders, allowedOrigins: readonly string[], upgrade = false): void {
  const reason = crossSiteRefusal(method, headers, allowedOrigins, upgrade);
  if (reason) throw new PermissionDeniedError(reason, { rule: 'origin' });
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const url = new URL(origin);
    const defaultPort = url.protocol === 'https:' ? '443' : '80';
    const [, hostName, hostPort] = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host.toLowerCase()) ?? [];
    return !!hostName && url.hostname === hostName && (url.port || defaultPort) === (hostPort ?? defaultPort);
  } catch {
    // Not a URL: not an origin we could match.
    return false;
  }
}

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
