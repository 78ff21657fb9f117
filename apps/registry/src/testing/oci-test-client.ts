/* Test-only OCI client (imported by registry integration tests and e2e/registry), never by production code. */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';

/** A response with the whole body (tests only deal with small bodies here). */
export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  header(name: string): string | undefined;
  json(): any;
  /** The connection ended before the announced body was complete. */
  truncated: boolean;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string | AsyncIterable<Buffer>;
  /** Send the body with chunked transfer encoding and no Content-Length (streamed clients do). */
  chunked?: boolean;
  /** Do not follow the Bearer challenge (to inspect the 401 itself). */
  noAuth?: boolean;
}

/**
 * A tiny OCI distribution client for tests, with the Docker token flow the official suites
 * implement: on a Bearer challenge it asks the realm for a token (Basic credentials when given)
 * with the challenged scope, caches it per scope and retries once.
 */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    private readonly credentials?: { username: string; password: string },
  ) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<RegistryResponse> {
    const first = await this.raw(method, path, options, this.tokenFor(path, method));
    if (first.status !== 401 || options.noAuth) return first;
    const challenge = parseChallenge(first.header('www-authenticate'));
    if (!challenge) return first;
    const token = await this.fetchToken(challenge);
    this.tokens.set(scopeKey(path, method), token);
    if (typeof options.body === 'object' && !Buffer.isBuffer(options.body)) {
      throw new Error('a streamed body cannot be replayed after a 401; authenticate first');
    }
    return this.raw(method, path, options, token);
  }

  /** Fetches a token for an explicit scope (e.g. pull on a mount source plus push on the target). */
  async authorize(scope: string, forPath: string, method: string): Promise<void> {
    const probe = await this.raw('GET', '/v2/', {}, undefined);
    const challenge = parseChallenge(probe.header('www-authenticate'));
    if (!challenge) return;
    this.tokens.set(scopeKey(forPath, method), await this.fetchToken({ ...challenge, scope }));
  }

  private tokenFor(path: string, method: string): string | undefined {
    return this.tokens.get(scopeKey(path, method));
  }

  private async fetchToken(challenge: { realm: string; service?: string; scope?: string }): Promise<string> {
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    for (const scope of (challenge.scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    const response = await fetch(url, { headers });
    if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as { token?: string; access_token?: string };
    return (body.token ?? body.access_token)!;
  }

  raw(method: string, path: string, options: RequestOptions, token?: string): Promise<RegistryResponse> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (token) headers.authorization = `Bearer ${token}`;
    const body = options.body;
    if ((typeof body === 'string' || Buffer.isBuffer(body)) && !options.chunked) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        // A server that announces more body than it sends (Distribution 2.8 on 416) still gave us its answer.
        let settled = false;
        const finish = (truncated: boolean) => {
          if (settled) return;
          settled = true;
          const bytes = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: bytes,
            header: (name) => {
              const v = res.headers[name.toLowerCase()];
              return Array.isArray(v) ? v.join(', ') : v;
            },
            json: () => JSON.parse(bytes.toString('utf8')),
            truncated,
          });
        };
        res.on('end', () => finish(false));
        res.on('aborted', () => finish(true));
        res.on('error', () => finish(true));
      });
      req.on('error', reject);
      if (body === undefined) return void req.end();
      if (typeof body === 'string' || Buffer.isBuffer(body)) return void req.end(body);
      (async () => {
        for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch((error) => req.destroy(error));
    });
  }

  // ---------------------------------------------------------------- push helpers

  /** POST + monolithic PUT; returns the PUT response. */
  async pushBlob(repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<RegistryResponse> {
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { headers: { 'content-length': '0' } });
    if (start.status !== 202) throw new Error(`POST upload: ${start.status} ${start.body}`);
    return this.request('PUT', withQuery(start.header('location')!, { digest }), {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
  }

  async pushManifest(repo: string, reference: string, manifest: Buffer | object, mediaType?: string): Promise<RegistryResponse> {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
    const type = mediaType ?? (Buffer.isBuffer(manifest) ? JSON.parse(manifest.toString()).mediaType : (manifest as { mediaType: string }).mediaType);
    return this.request('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'content-type': type }, body: bytes });
  }
}

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
export const sha512 = (data: Buffer | string) => `sha512:${createHash('sha512').update(data).digest('hex')}`;
export const randomBlob = (size: number) => randomBytes(size);

export function withQuery(location: string, params: Record<string, string>): string {
  const url = new URL(location, 'http://placeholder');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return /^https?:/.test(location) ? url.toString() : `${url.pathname}${url.search}`;
}

function scopeKey(path: string, method: string): string {
  const name = /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//.exec(new URL(path, 'http://x').pathname)?.[1] ?? '';
  return `${name}|${method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' ? 'delete' : 'push'}`;
}

export function parseChallenge(header: string | undefined): { realm: string; service?: string; scope?: string } | null {
  if (!header || !/^Bearer\s/i.test(header)) return null;
  const params: Record<string, string> = {};
  for (const match of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[match[1]] = match[2];
  return params.realm ? { realm: params.realm, service: params.service, scope: params.scope } : null;
}
