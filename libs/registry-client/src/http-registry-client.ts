import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform } from 'node:stream';
import { parseChallenge, repositoryScope, Challenge, tokenRealmRefusal } from './auth';
import { DigestMismatchError, RegistryAuthError, RegistryError, RegistryNotFoundError, RegistryUnreachableError } from './errors';
import { discard, HttpResponse, readAll, send } from './http';
import { BlobUploadResult, FetchedManifest, RegistryClient, RegistryClientOptions } from './registry-client';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface CallOptions {
  scope: string;
  headers?: Record<string, string>;
  /** A factory, so a request can be re-sent with a fresh body after an auth challenge. */
  body?: () => Buffer | Readable | Promise<Buffer | Readable>;
  url?: URL;
  timeoutMs?: number | null;
  /** Return the registry's first answer as it is, 401 included (no token flow). */
  firstAnswer?: boolean;
}

export class HttpRegistryClient implements RegistryClient {
  private base: URL;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private useBasic = false;

  constructor(private readonly options: RegistryClientOptions) {
    this.base = new URL(options.baseUrl);
  }

  async ping(): Promise<void> {
    const response = await this.call('GET', '/v2/', { scope: '' });
    await this.expect(response, [200], 'GET /v2/');
  }

  async getManifest(repository: string, reference: string, accept = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    const response = await this.call('GET', `/v2/${repository}/manifests/${reference}`, { scope: repositoryScope(repository, 'pull'), headers: { accept: accept.join(', ') } });
    await this.expect(response, [200], `manifest ${repository}:${reference}`);
    const bytes = await readAll(response.body, MAX_MANIFEST_BYTES);
    const digest = digestFor(reference.includes(':') ? reference.split(':')[0] : 'sha256', bytes);
    // By digest, what came back must be exactly what was asked for; by tag, we compute it ourselves.
    if (reference.includes(':') && digest !== reference) throw new DigestMismatchError(reference, digest);
    const mediaType = (response.headers['content-type'] ?? '').split(';')[0].trim() || mediaTypeOf(bytes);
    return { digest, mediaType, bytes };
  }

  async headManifest(repository: string, reference: string, accept = MANIFEST_ACCEPT) {
    const response = await this.call('HEAD', `/v2/${repository}/manifests/${reference}`, { scope: repositoryScope(repository, 'pull'), headers: { accept: accept.join(', ') } });
    await discard(response.body);
    if (response.status === 404) return null;
    await this.expect(response, [200], `manifest ${repository}:${reference}`);
    return {
      digest: String(response.headers['docker-content-digest'] ?? ''),
      mediaType: String(response.headers['content-type'] ?? '').split(';')[0],
      size: Number(response.headers['content-length'] ?? 0),
    };
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string) {
    const response = await this.call('PUT', `/v2/${repository}/manifests/${reference}`, {
      scope: repositoryScope(repository, 'pull,push'),
      headers: { 'content-type': mediaType },
      body: () => bytes,
    });
    await this.expect(response, [201], `push manifest ${repository}:${reference}`);
    await discard(response.body);
    return { digest: String(response.headers['docker-content-digest'] ?? digestFor('sha256', bytes)) };
  }

  async deleteManifest(repository: string, digest: string): Promise<void> {
    const response = await this.call('DELETE', `/v2/${repository}/manifests/${digest}`, { scope: repositoryScope(repository, 'delete') });
    await this.expect(response, [202], `delete ${repository}@${digest}`);
    await discard(response.body);
  }

  async headBlob(repository: string, digest: string) {
    const response = await this.call('HEAD', `/v2/${repository}/blobs/${digest}`, { scope: repositoryScope(repository, 'pull') });
    await discard(response.body);
    if (response.status === 404) return null;
    await this.expect(response, [200, 307], `blob ${repository}@${digest}`);
    return { size: Number(response.headers['content-length'] ?? 0) };
  }

  async getBlob(repository: string, digest: string): Promise<Readable> {
    let response = await this.call('GET', `/v2/${repository}/blobs/${digest}`, { scope: repositoryScope(repository, 'pull'), timeoutMs: null });
    for (let hops = 0; [301, 302, 303, 307, 308].includes(response.status) && hops < 5; hops++) {
      await discard(response.body);
      // Presigned storage URLs carry their own authorisation: never forward ours there.
      response = await send({ method: 'GET', url: new URL(String(response.headers.location), this.base), headers: this.userAgent() });
    }
    await this.expect(response, [200], `blob ${repository}@${digest}`);
    const verified = verifyingStream(digest);
    pipeline(response.body, verified, () => undefined);
    return verified;
  }

  async pushBlob(
    repository: string,
    digest: string,
    size: number,
    open: () => Readable | Promise<Readable>,
    options: { mountFrom?: string } = {},
  ): Promise<BlobUploadResult> {
    if (await this.headBlob(repository, digest)) return { digest, size, existed: true };
    const scope = repositoryScope(repository, 'pull,push');
    const mount = options.mountFrom ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(options.mountFrom)}` : '';
    const started = await this.call('POST', `/v2/${repository}/blobs/uploads/${mount}`, {
      scope: options.mountFrom ? `${scope} ${repositoryScope(options.mountFrom, 'pull')}` : scope,
      headers: { 'content-length': '0' },
    });
    await discard(started.body);
    if (started.status === 201) return { digest, size, existed: true };
    await this.expect(started, [202], `start upload to ${repository}`);
    const location = new URL(String(started.headers.location), this.base);
    location.searchParams.set('digest', digest);
    // One monolithic PUT: the body streams from `open()` with its exact length.
    const finished = await this.call('PUT', '', {
      url: location,
      scope,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: open,
      timeoutMs: null,
    });
    await this.expect(finished, [201], `upload ${digest} to ${repository}`);
    await discard(finished.body);
    return { digest, size, existed: false };
  }

  /**
   * A bearer token from the registry's token service for `scope` (`repository:team/app:pull`),
   * obtained with this client's credentials: what can be handed to another process in their place.
   */
  async bearerToken(scope: string): Promise<string> {
    if (!this.options.credentials || 'token' in this.options.credentials) throw new RegistryAuthError('a bearer token is obtained with a username and password');
    const response = await this.call('GET', '/v2/', { scope: '', firstAnswer: true });
    await discard(response.body);
    const challenge = parseChallenge(String(response.headers['www-authenticate'] ?? ''));
    if (response.status !== 401 || challenge?.scheme !== 'bearer') throw new RegistryAuthError(`${this.base.origin} issued no token (it does not use token authentication)`);
    await this.fetchToken({ ...challenge, params: { ...challenge.params, scope } }, scope);
    return this.tokens.get(scope)!.token;
  }

  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let next: URL | null = new URL(`/v2/${repository}/tags/list?n=1000`, this.base);
    while (next) {
      const response = await this.call('GET', '', { url: next, scope: repositoryScope(repository, 'pull') });
      if (response.status === 404) {
        await discard(response.body);
        return [];
      }
      await this.expect(response, [200], `tags of ${repository}`);
      const body = JSON.parse((await readAll(response.body)).toString('utf8')) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const link = /<([^>]+)>;\s*rel="?next"?/.exec(String(response.headers.link ?? ''));
      next = link ? new URL(link[1], this.base) : null;
    }
    return tags;
  }

  private async call(method: string, path: string, options: CallOptions): Promise<HttpResponse> {
    let url = options.url ?? new URL(path, this.base);
    for (let attempt = 0; ; attempt++) {
      let response: HttpResponse;
      try {
        response = await send({
          method,
          url,
          headers: { ...this.userAgent(), ...options.headers, ...this.authorization(options.scope) },
          body: options.body ? await options.body() : undefined,
          timeoutMs: options.timeoutMs === null ? undefined : (options.timeoutMs ?? this.options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        if (!this.fallsBackToPlainHttp(error, url)) throw error;
        url = new URL(url.href.replace(/^https:/, 'http:'));
        attempt--;
        continue;
      }
      if (options.firstAnswer) return response;
      if (response.status !== 401 || attempt > 0 || !this.options.credentials) {
        if (response.status === 401 && !this.options.credentials && attempt === 0) {
          // Anonymous: registries still hand out pull tokens for public repositories.
          const challenge = parseChallenge(String(response.headers['www-authenticate'] ?? ''));
          if (challenge?.scheme === 'bearer') {
            await discard(response.body);
            await this.fetchToken(challenge, options.scope);
            continue;
          }
        }
        return response;
      }
      const challenge = parseChallenge(String(response.headers['www-authenticate'] ?? ''));
      await discard(response.body);
      if (!challenge) throw new RegistryAuthError(`${url.origin} refused the request and sent no usable challenge`);
      if (challenge.scheme === 'basic') this.useBasic = true;
      else await this.fetchToken(challenge, options.scope);
    }
  }

  /** The registry answered a TLS handshake with plain HTTP: allowed only where plainHttpFallback says so. */
  private fallsBackToPlainHttp(error: unknown, url: URL): boolean {
    const notTls = error instanceof RegistryUnreachableError && error.socketCode === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(error.message);
    if (!notTls || !this.options.plainHttpFallback || url.protocol !== 'https:' || url.host !== this.base.host || this.base.protocol !== 'https:') return false;
    this.base = new URL(this.base.href.replace(/^https:/, 'http:'));
    return true;
  }

  private authorization(scope: string): Record<string, string> {
    const credentials = this.options.credentials;
    if (credentials && 'token' in credentials) return { authorization: `Bearer ${credentials.token}` };
    const cached = this.tokens.get(scope);
    if (cached && cached.expiresAt > Date.now()) return { authorization: `Bearer ${cached.token}` };
    if (this.useBasic && credentials) return { authorization: basic(credentials.username, credentials.password) };
    return {};
  }

  private async fetchToken(challenge: Challenge, scope: string): Promise<void> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryAuthError('bearer challenge without a realm');
    const url = new URL(realm, this.base);
    const credentials = this.options.credentials;
    const refusal = tokenRealmRefusal(url, this.base, Boolean(credentials && 'username' in credentials));
    if (refusal) throw new RegistryAuthError(`${this.base.host}: ${refusal}`);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const s of (challenge.params.scope ?? scope).split(' ').filter(Boolean)) url.searchParams.append('scope', s);
    const headers = { ...this.userAgent(), ...(credentials && 'username' in credentials ? { authorization: basic(credentials.username, credentials.password) } : {}) };
    const response = await send({ method: 'GET', url, headers, timeoutMs: this.options.timeoutMs ?? 30_000 });
    if (response.status === 401 || response.status === 403) {
      await discard(response.body);
      throw new RegistryAuthError(`${url.origin}: credentials refused`, response.status);
    }
    await this.expect(response, [200], 'token');
    const body = JSON.parse((await readAll(response.body)).toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryAuthError(`${url.origin}: token endpoint answered without a token`);
    const ttl = Math.max(30, (body.expires_in ?? 60) - 10);
    this.tokens.set(scope, { token, expiresAt: Date.now() + ttl * 1000 });
  }

  private async expect(response: HttpResponse, statuses: number[], what: string): Promise<void> {
    if (statuses.includes(response.status)) return;
    let code: string | undefined;
    let message = `${what}: HTTP ${response.status}`;
    try {
      const text = (await readAll(response.body, 64 * 1024)).toString('utf8');
      const first = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors?.[0];
      code = first?.code;
      if (first?.message) message = `${what}: ${first.message} (${first.code})`;
    } catch {
      // Not an OCI error body: keep the status line.
    }
    if (response.status === 404) throw new RegistryNotFoundError(message, code);
    if (response.status === 401 || response.status === 403) throw new RegistryAuthError(message, response.status);
    throw new RegistryError(message, response.status, code);
  }

  private userAgent(): Record<string, string> {
    return { 'user-agent': this.options.userAgent ?? 'muelle/0.1' };
  }
}

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

export function digestFor(algorithm: string, bytes: Buffer): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function mediaTypeOf(bytes: Buffer): string {
  try {
    return String((JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? '');
  } catch {
    // Not JSON: no media type to read from it.
    return '';
  }
}

/** Passes bytes through and fails the stream at its end if they do not hash to `digest`. */
export function verifyingStream(digest: string): Transform {
  const [algorithm] = digest.split(':');
  if (algorithm !== 'sha256' && algorithm !== 'sha512') throw new RegistryError(`unsupported digest algorithm in ${digest}`, 0, 'DIGEST_INVALID');
  const hash = createHash(algorithm);
  return new Transform({
    transform(chunk, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const actual = `${algorithm}:${hash.digest('hex')}`;
      callback(actual === digest ? null : new DigestMismatchError(digest, actual));
    },
  });
}
