import { lookup } from 'node:dns/promises';
import { IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Where `ADD <url>` may fetch from. A build runs with the builder's network position, so an URL
 * could reach the platform's own services (metadata's /metrics, the api, NATS' monitoring…) or a
 * cloud metadata service and bake the answer into an image. Every hop (the first request and
 * each redirect) is resolved once, every address checked, and the connection made to the
 * checked address: the name is never resolved again behind our back.
 */
export interface UrlPolicy {
  /** MUELLE_BUILD_ALLOW_PRIVATE_NETWORKS: RFC 1918, CGNAT, IPv6 ULA. */
  allowPrivateNetworks: boolean;
  /** Addresses of the platform's own services besides this host's (e.g. the registry's). */
  platformAddresses?: readonly string[];
}

export class UrlRefusedError extends Error {
  constructor(
    readonly url: string,
    readonly rule: string,
  ) {
    super(`${url} refused: ${rule}`);
  }
}

const ranges = (entries: Array<[string, number, 'ipv4' | 'ipv6']>) => {
  const list = new BlockList();
  for (const [network, prefix, family] of entries) list.addSubnet(network, prefix, family);
  return list;
};

const ALWAYS_REFUSED: Array<{ name: string; list: BlockList }> = [
  { name: 'a loopback address', list: ranges([['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]) },
  { name: 'a link-local address (cloud metadata services live there)', list: ranges([['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]) },
  { name: 'an unspecified, broadcast or multicast address', list: ranges([['0.0.0.0', 8, 'ipv4'], ['255.255.255.255', 32, 'ipv4'], ['224.0.0.0', 4, 'ipv4'], ['::', 128, 'ipv6'], ['ff00::', 8, 'ipv6']]) },
];
const PRIVATE = ranges([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);

/** IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it is. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1] as string, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, '')));
}

/** Why `address` may not be fetched from, or null when it may. */
export function addressRefusal(address: string, policy: UrlPolicy, ownAddresses: readonly string[] = hostAddresses()): string | null {
  const { address: ip, family } = normalise(address);
  for (const { name, list } of ALWAYS_REFUSED) if (list.check(ip, family)) return `${address} is ${name}`;
  const own = [...ownAddresses, ...(policy.platformAddresses ?? [])].map((a) => normalise(a).address);
  if (own.includes(ip)) return `${address} is one of the platform's own addresses`;
  if (!policy.allowPrivateNetworks && PRIVATE.check(ip, family)) return `${address} is in a private network range (MUELLE_BUILD_ALLOW_PRIVATE_NETWORKS=false)`;
  return null;
}

/** Resolves the URL's host once and checks every address; returns the one to connect to. */
type Resolved = { address: string; family: 4 | 6 };
const resolveAll = async (host: string) => (await lookup(host, { all: true, verbatim: true })) as Resolved[];

export async function checkedAddress(url: URL, policy: UrlPolicy, ownAddresses?: readonly string[], resolve: (host: string) => Promise<Resolved[]> = resolveAll): Promise<Resolved> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UrlRefusedError(url.href, `only http and https URLs can be added`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) as 4 | 6 }] : await resolve(host);
  if (!addresses.length) throw new UrlRefusedError(url.href, `${host} does not resolve`);
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, policy, ownAddresses);
    if (refusal) throw new UrlRefusedError(url.href, host === address ? refusal : `${host} resolves to ${refusal}`);
  }
  return addresses[0] as Resolved;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * GET `url` under the policy, following at most `maxRedirects` redirects, each checked before
 * it is followed. Resolves with the final 2xx response (its body unread).
 */
export interface FetchOptions {
  signal?: AbortSignal;
  maxRedirects?: number;
  timeoutMs?: number;
  /** Test seams: this host's addresses (default: its interfaces), the resolver (default: DNS), and where a checked address is actually dialled (default: itself). */
  ownAddresses?: readonly string[];
  resolve?: (host: string) => Promise<Resolved[]>;
  dial?: (checked: Resolved) => Resolved;
}

export async function fetchChecked(url: string, policy: UrlPolicy, options: FetchOptions = {}): Promise<IncomingMessage> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const checked = await checkedAddress(current, policy, options.ownAddresses, options.resolve);
    const response = await get(current, options.dial ? options.dial(checked) : checked, options);
    if (!REDIRECTS.has(response.statusCode ?? 0)) {
      if ((response.statusCode ?? 0) < 200 || (response.statusCode ?? 0) > 299) {
        response.resume();
        throw new Error(`HTTP ${response.statusCode}`);
      }
      return response;
    }
    response.resume();
    const location = response.headers.location;
    if (!location) throw new Error(`HTTP ${response.statusCode} without a Location`);
    if (hop >= (options.maxRedirects ?? 5)) throw new Error(`more than ${options.maxRedirects ?? 5} redirects`);
    current = new URL(location, current);
  }
}

/** One GET to the already checked address; Host header and TLS name stay the URL's own. */
function get(url: URL, target: Resolved, options: { signal?: AbortSignal; timeoutMs?: number }): Promise<IncomingMessage> {
  const requester = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = requester(url, {
      method: 'GET',
      signal: options.signal,
      timeout: options.timeoutMs ?? 30_000,
      // The connection goes to the address we checked, never to a second resolution of the name.
      lookup: (_hostname, lookupOptions, callback) => {
        if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [target]);
        else callback(null, target.address, target.family);
      },
    });
    req.on('response', resolve);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}
