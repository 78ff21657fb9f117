import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { listCatalog } from '@muelle/contracts';
import { LOGGER, problemOfRequestTarget } from '@muelle/service-kit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RegistryAudit } from '../auth/registry-audit';
import { Principal, RegistryAuthService } from '../auth/registry-auth.service';
import { BlobsService } from '../blobs/blobs.service';
import { isInternal, RegistryError, toRegistryError } from '../errors';
import { ManifestsService, readCapped } from '../manifests/manifests.service';
import { RegistryMetrics } from './registry-metrics';
import { reply } from './reply';
import { paginationNumber, parseRequestTarget, ParsedRequest } from './routes';

const MAX_CATALOG_PAGE = 1000;
const MAX_CATALOG_SCANS = 20;

/**
 * The whole /v2 API in one raw handler, registered before Nest's router: the request target is
 * matched as received (no decoding, no body parser), then authorized, then dispatched. Every
 * failure is turned into the spec's error body here and only here.
 */
@Injectable()
export class V2Middleware implements NestMiddleware {
  constructor(
    private readonly auth: RegistryAuthService,
    private readonly blobs: BlobsService,
    private readonly manifests: ManifestsService,
    private readonly bus: BusClient,
    private readonly audit: RegistryAudit,
    private readonly metrics: RegistryMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  use(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: (error?: unknown) => void): void {
    let parsed: ParsedRequest | null;
    try {
      parsed = parseRequestTarget(req.method ?? 'GET', req.originalUrl ?? req.url ?? '/');
      // The same edge rule as every other service: no NUL byte or broken escape reaches metadata.
      const problem = parsed && problemOfRequestTarget(req.originalUrl ?? req.url ?? '/');
      if (problem) throw new RegistryError(/ path /.test(problem) ? 'NAME_INVALID' : 'PAGINATION_NUMBER_INVALID', problem);
    } catch (error) {
      return this.fail(req, res, error);
    }
    if (!parsed) return next();
    const tracked = this.metrics.track(req, res, parsed.route);
    this.dispatch(req, res, parsed, tracked.authorized).catch((error) => this.fail(req, res, error, tracked.failed));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, { route, query }: ParsedRequest, authorized: () => void): Promise<void> {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    if (route.kind === 'token') return this.token(req, res, query);
    const principal = await this.auth.authorize(req, method, route);
    authorized();
    switch (route.kind) {
      case 'base':
        return reply(res, 200, {}, {});
      case 'catalog':
        return this.catalog(res, principal, query);
      case 'tags':
        return this.manifests.tags(res, route.name, query);
      case 'referrers':
        return this.manifests.referrers(res, route.name, route.digest, query);
      case 'manifest': {
        const reference = 'digest' in route.reference ? route.reference.digest : route.reference.tag;
        if (method === 'PUT') {
          await this.manifests.put(req, res, route.name, route.reference, query);
          return this.audit.changed(principal, 'registry.push', route.name, { reference, digest: res.getHeader('Docker-Content-Digest') ?? null });
        }
        if (method === 'DELETE') {
          await this.manifests.delete(res, route.name, reference);
          return this.audit.changed(principal, 'registry.delete', route.name, { reference });
        }
        return this.manifests.get(res, route.name, reference, head);
      }
      case 'blob':
        if (method === 'DELETE') {
          await this.blobs.delete(res, route.name, route.digest);
          return this.audit.changed(principal, 'registry.delete', route.name, { blob: route.digest });
        }
        return this.blobs.get(req, res, route.name, route.digest, head);
      case 'uploads':
        return this.blobs.startUpload(req, res, route.name, query, principal, (repository) => this.auth.canPull(principal, repository));
      case 'upload':
        if (method === 'GET') return this.blobs.status(res, route.name, route.id);
        if (method === 'PATCH') return this.blobs.patch(req, res, route.name, route.id);
        if (method === 'PUT') return this.blobs.put(req, res, route.name, route.id, query);
        return this.blobs.cancel(res, route.name, route.id);
    }
  }

  /**
   * One page of the names the principal may pull. Hidden names do not count against `n`: pages
   * of metadata are read until `n` visible names or the end (bounded: a page is at most 1000
   * names and at most MAX_CATALOG_SCANS pages are read; the Link header resumes after the last
   * name read).
   */
  private async catalog(res: ServerResponse, principal: Principal, query: URLSearchParams): Promise<void> {
    const n = paginationNumber(query.get('n'), 100, MAX_CATALOG_PAGE);
    let last = query.get('last')?.slice(0, 255) || undefined;
    const visible: string[] = [];
    let hasMore = n > 0;
    for (let scans = 0; hasMore && visible.length < n && scans < MAX_CATALOG_SCANS; scans++) {
      const page = await this.bus.request(listCatalog, { n: Math.min(MAX_CATALOG_PAGE, Math.max(n, 100)), ...(last ? { last } : {}) });
      const allowed = new Set(this.auth.visibleRepositories(principal, page));
      let unread = false;
      for (const name of page.repositories) {
        if (visible.length === n) {
          unread = true;
          break;
        }
        last = name;
        if (allowed.has(name)) visible.push(name);
      }
      hasMore = unread || (page.hasMore && page.repositories.length > 0);
    }
    const headers: Record<string, string> = {};
    if (hasMore && last) headers.Link = `</v2/_catalog?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
    return reply(res, 200, headers, { repositories: visible });
  }

  /** GET (Docker) or POST (OAuth2 password grant) token endpoint. */
  private async token(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    if (req.method === 'POST') {
      const form = new URLSearchParams((await readCapped(req, 64 * 1024)).toString('utf8'));
      if (form.get('grant_type') !== 'password') {
        return reply(res, 400, {}, { error: 'unsupported_grant_type', error_description: 'only grant_type=password is supported' });
      }
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      const issued = await this.auth.issueToken(undefined, form, { username, password }, req.socket.remoteAddress);
      return reply(res, 200, {}, { access_token: issued.access_token, expires_in: issued.expires_in, issued_at: issued.issued_at, scope: form.getAll('scope').join(' ') });
    }
    req.resume();
    return reply(res, 200, {}, await this.auth.issueToken(req.headers.authorization, query, undefined, req.socket.remoteAddress));
  }

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown, counted?: (code: string) => void): void {
    const answer = toRegistryError(error);
    counted?.(answer.code);
    if (isInternal(answer)) this.logger.error({ err: error, method: req.method, url: req.url }, 'registry request failed');
    else this.logger.debug({ code: answer.code, method: req.method, url: req.url, message: answer.message }, 'registry request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = req.method === 'HEAD' ? undefined : answer.body();
    let answered = false;
    const respond = () => {
      if (answered) return;
      answered = true;
      reply(res, answer.status, answer.headers, body);
    };
    if (req.readableEnded || req.destroyed) return respond();
    // Node closes the connection when a response ends before its request body was read, and a
    // client still sending then fails with EPIPE instead of seeing the error. So the rest of the
    // body is read and discarded first (bounded); really big bodies get the answer and a close.
    const length = Number(req.headers['content-length'] ?? 0);
    req.resume();
    if (length > 64 * 1024 * 1024) {
      res.setHeader('Connection', 'close');
      return respond();
    }
    const timer = setTimeout(respond, 5_000);
    const done = () => {
      clearTimeout(timer);
      respond();
    };
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
  }
}

export { RegistryError };
