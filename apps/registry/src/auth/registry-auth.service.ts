import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { authenticateToken, authenticateUser, getRepository, MuelleError, registrySigningKey, UserRecord } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config';
import { RegistryError } from '../errors';
import type { Route } from '../http/routes';
import { REGISTRY_CONFIG } from '../tokens';
import { AccessEntry, signToken, TokenInvalidError, verifyToken } from './jwt';
import { covers, parseScopes, requiredAccess, scopeString } from './scopes';

/** Who is asking, and what their token grants. `unrestricted` when auth is off. */
export interface Principal {
  subject: string;
  unrestricted: boolean;
  access: AccessEntry[];
}

const UNRESTRICTED: Principal = { subject: 'anonymous', unrestricted: true, access: [] };
const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'];

/**
 * Docker token authentication (distribution `spec/auth/token.md`): /v2 requests carry a Bearer
 * JWT issued by our token endpoint (`/v2/token`), signed with an HMAC key every replica shares.
 */
@Injectable()
export class RegistryAuthService {
  private key?: Promise<Buffer>;

  constructor(
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    private readonly bus: BusClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.config.MUELLE_REGISTRY_AUTH;
  }

  /** The configured key, else the one kept in metadata (fetched once, retried after a failure). */
  signingKey(): Promise<Buffer> {
    if (this.config.MUELLE_REGISTRY_TOKEN_KEY) return Promise.resolve(Buffer.from(this.config.MUELLE_REGISTRY_TOKEN_KEY, 'utf8'));
    this.key ??= this.bus.request(registrySigningKey, {}).then(
      (reply) => Buffer.from(reply.key, 'base64'),
      (error) => {
        this.key = undefined;
        throw error;
      },
    );
    return this.key;
  }

  /** Checks the request's Bearer token against what the route needs; throws a 401 challenge otherwise. */
  async authorize(req: IncomingMessage, method: string, route: Route): Promise<Principal> {
    if (!this.enabled) return UNRESTRICTED;
    const needed = requiredAccess(method, route);
    const header = req.headers.authorization;
    const bearer = header && /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!bearer) throw this.challenge(req, needed, 'authentication required');
    let claims;
    try {
      claims = verifyToken(bearer, await this.signingKey(), this.config.MUELLE_REGISTRY_SERVICE);
    } catch (error) {
      if (error instanceof TokenInvalidError) throw this.challenge(req, needed, error.message, 'invalid_token');
      throw error;
    }
    if (!covers(claims.access, needed)) throw this.challenge(req, needed, 'insufficient scope', 'insufficient_scope');
    return { subject: claims.sub, unrestricted: false, access: claims.access };
  }

  /** Whether the principal may pull `repository` (the source of a cross-repository mount). */
  canPull(principal: Principal, repository: string): boolean {
    return principal.unrestricted || covers(principal.access, [{ type: 'repository', name: repository, actions: ['pull'] }]);
  }

  /** The token endpoint: Basic credentials (user password or `mle_` API token) or anonymous. */
  async issueToken(authorization: string | undefined, params: URLSearchParams, credentials?: { username: string; password: string }) {
    const service = params.get('service');
    if (service && service !== this.config.MUELLE_REGISTRY_SERVICE) {
      throw new RegistryError('DENIED', `this token service is ${this.config.MUELLE_REGISTRY_SERVICE}, not ${service}`, undefined, { status: 400 });
    }
    const basic = credentials ?? parseBasic(authorization);
    let user: UserRecord | null = null;
    if (basic) {
      try {
        user = basic.password.startsWith('mle_')
          ? await this.bus.request(authenticateToken, { token: basic.password })
          : await this.bus.request(authenticateUser, { username: basic.username, password: basic.password });
      } catch (error) {
        if (error instanceof MuelleError && (error.code === 'UNAUTHENTICATED' || error.code === 'INVALID_MESSAGE')) {
          throw new RegistryError('UNAUTHORIZED', 'incorrect username or password', undefined, {
            headers: { 'WWW-Authenticate': `Basic realm="${this.config.MUELLE_REGISTRY_SERVICE}"` },
          });
        }
        throw error;
      }
    }
    const requested = parseScopes(params.getAll('scope'));
    const access: AccessEntry[] = [];
    for (const entry of requested) {
      const granted = await this.grant(user, entry);
      if (granted.length) access.push({ ...entry, actions: granted });
    }
    const now = Math.floor(Date.now() / 1000);
    const ttl = this.config.MUELLE_REGISTRY_TOKEN_TTL_SECONDS;
    const token = signToken(
      { iss: this.config.MUELLE_REGISTRY_SERVICE, sub: user?.username ?? '', aud: this.config.MUELLE_REGISTRY_SERVICE, iat: now, nbf: now - 5, exp: now + ttl, access },
      await this.signingKey(),
    );
    this.logger.debug({ user: user?.username ?? 'anonymous', access }, 'registry token issued');
    return { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() };
  }

  /**
   * Intersection of what is asked and what the user may do. Admins and members: everything
   * (teams come later); anonymous: `pull` where the repository allows anonymous pulls.
   */
  private async grant(user: UserRecord | null, entry: AccessEntry): Promise<string[]> {
    if (entry.type === 'registry') return user && entry.name === 'catalog' ? entry.actions.filter((a) => a === '*') : [];
    if (user) return entry.actions.includes('*') ? REPOSITORY_ACTIONS : entry.actions.filter((a) => REPOSITORY_ACTIONS.includes(a));
    if (!entry.actions.includes('pull')) return [];
    try {
      const repository = await this.bus.request(getRepository, { name: entry.name });
      return repository.anonymousPull ? ['pull'] : [];
    } catch {
      return [];
    }
  }

  private challenge(req: IncomingMessage, needed: AccessEntry[], message: string, error?: string): RegistryError {
    const realm = `${this.publicBase(req)}/v2/token`;
    const parts = [`realm="${realm}"`, `service="${this.config.MUELLE_REGISTRY_SERVICE}"`];
    if (needed.length) parts.push(`scope="${scopeString(needed)}"`);
    if (error) parts.push(`error="${error}"`);
    return new RegistryError('UNAUTHORIZED', message, needed.length ? needed.map((n) => ({ Type: n.type, Name: n.name, Action: n.actions.join(',') })) : undefined, {
      headers: { 'WWW-Authenticate': `Bearer ${parts.join(',')}` },
    });
  }

  private publicBase(req: IncomingMessage): string {
    if (this.config.MUELLE_REGISTRY_PUBLIC_URL) return this.config.MUELLE_REGISTRY_PUBLIC_URL.replace(/\/+$/, '');
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    const proto = encrypted || String(req.headers['x-forwarded-proto'] ?? 'http').split(',')[0].trim() === 'https' ? 'https' : 'http';
    const host = /^[A-Za-z0-9.:[\]-]{1,300}$/.test(req.headers.host ?? '') ? req.headers.host : `${this.config.MUELLE_BIND_HOST}:${this.config.MUELLE_REGISTRY_PORT}`;
    return `${proto}://${host}`;
  }
}

function parseBasic(header: string | undefined): { username: string; password: string } | null {
  const encoded = header && /^Basic\s+(\S+)$/i.exec(header)?.[1];
  if (!encoded) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
