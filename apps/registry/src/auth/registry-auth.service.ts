import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { Action, decide, decideRepository, Subject, subjectFromPrincipal } from '@muelle/authz';
import { getRepository, MuelleError, registrySigningKey } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config';
import { RegistryError } from '../errors';
import type { Route } from '../http/routes';
import { REGISTRY_CONFIG } from '../tokens';
import { AccessEntry, signToken, TokenInvalidError, TokenSubject, verifyToken } from './jwt';
import { RegistryAudit } from './registry-audit';
import { RegistryCredentials } from './registry-credentials';
import { covers, parseScopes, requiredAccess, scopeString } from './scopes';

/** Who is asking, and what their token grants. `unrestricted` when auth is off. */
export interface Principal {
  subject: string;
  unrestricted: boolean;
  access: AccessEntry[];
  /** The authorization subject the token was issued to; null for anonymous tokens (and with auth off). */
  authz: Subject | null;
}

const UNRESTRICTED: Principal = { subject: 'anonymous', unrestricted: true, access: [], authz: null };
const REPOSITORY_ACTIONS: Action[] = ['pull', 'push', 'delete'];
/** Token requests whose refusal is audited: changes, not reads (pulls are too many to log). */
const AUDITED_ACTIONS = new Set(['push', 'delete']);

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
    private readonly audit: RegistryAudit,
    private readonly credentials: RegistryCredentials,
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
    return { subject: claims.sub, unrestricted: false, access: claims.access, authz: tokenSubject(claims.sub, claims.muelle) };
  }

  /** Whether the principal may pull `repository` (the source of a cross-repository mount). */
  canPull(principal: Principal, repository: string): boolean {
    return principal.unrestricted || covers(principal.access, [{ type: 'repository', name: repository, actions: ['pull'] }]);
  }

  /**
   * The names of a catalog page the principal may pull: `/v2/_catalog` lists only those (the
   * token grants the catalog to every signed-in user; the listing is filtered by its subject).
   */
  visibleRepositories(principal: Principal, page: { repositories: string[]; shared: string[]; anonymousPull: string[] }): string[] {
    if (principal.unrestricted) return page.repositories;
    const shared = new Set(page.shared);
    const open = new Set(page.anonymousPull);
    return page.repositories.filter(
      (name) => decide(principal.authz, 'pull', { kind: 'repository', name, shared: shared.has(name), anonymousPull: open.has(name) }).allowed,
    );
  }

  /** The token endpoint: Basic credentials (user password or `mle_` API token) or anonymous. */
  async issueToken(authorization: string | undefined, params: URLSearchParams, credentials?: { username: string; password: string }, clientAddress?: string) {
    const service = params.get('service');
    if (service && service !== this.config.MUELLE_REGISTRY_SERVICE) {
      throw new RegistryError('DENIED', `this token service is ${this.config.MUELLE_REGISTRY_SERVICE}, not ${service}`, undefined, { status: 400 });
    }
    const basic = credentials ?? parseBasic(authorization);
    // The principal carries the team and, for scoped and robot tokens, their scopes (which
    // `decide()` applies as a narrowing).
    const principal = basic ? await this.credentials.check(basic, clientAddress, this.config.MUELLE_REGISTRY_SERVICE) : null;
    const user = principal?.user ?? null;
    const subject = principal ? subjectFromPrincipal(principal) : null;
    const requested = parseScopes(params.getAll('scope'));
    const access: AccessEntry[] = [];
    for (const entry of requested) {
      const granted = await this.grant(subject, entry);
      if (granted.length) access.push({ ...entry, actions: granted });
      const changes = entry.actions.includes('*') ? [...AUDITED_ACTIONS] : entry.actions.filter((a) => AUDITED_ACTIONS.has(a));
      if (entry.type === 'repository' && changes.some((a) => !granted.includes(a))) this.audit.tokenRefused(subject, user?.username ?? 'anonymous', entry.name, entry.actions, granted);
    }
    const now = Math.floor(Date.now() / 1000);
    const ttl = this.config.MUELLE_REGISTRY_TOKEN_TTL_SECONDS;
    const claims = { iss: this.config.MUELLE_REGISTRY_SERVICE, sub: user?.username ?? '', aud: this.config.MUELLE_REGISTRY_SERVICE, iat: now, nbf: now - 5, exp: now + ttl, access };
    const token = signToken(subject ? { ...claims, muelle: { id: subject.id, kind: subject.kind, role: subject.role, teamId: subject.teamId, teamName: subject.teamName, ...(subject.scopes ? { scopes: subject.scopes } : {}) } } : claims, await this.signingKey());
    this.logger.debug({ user: user?.username ?? 'anonymous', access }, 'registry token issued');
    return { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() };
  }

  /**
   * Intersection of what is asked and what `decide()` allows the subject (null: anonymous, who
   * may only pull repositories open to anonymous pulls). `*` on a repository asks for every
   * action; the catalog is granted to every signed-in user and filtered by subject when listed.
   */
  private async grant(subject: Subject | null, entry: AccessEntry): Promise<string[]> {
    if (entry.type === 'registry') {
      return entry.name === 'catalog' && decide(subject, 'read', { kind: 'catalog' }).allowed ? entry.actions.filter((a) => a === '*') : [];
    }
    const asked = entry.actions.includes('*') ? REPOSITORY_ACTIONS : REPOSITORY_ACTIONS.filter((a) => entry.actions.includes(a));
    let settings: Promise<{ shared: boolean; anonymousPull: boolean } | null> | undefined;
    const lookup = (name: string) => (settings ??= this.repositorySettings(name));
    const granted: string[] = [];
    for (const action of asked) if ((await decideRepository(subject, action, entry.name, lookup)).allowed) granted.push(action);
    return granted;
  }

  /** The settings that widen who may pull a repository; null when it does not exist (yet). */
  private async repositorySettings(name: string): Promise<{ shared: boolean; anonymousPull: boolean } | null> {
    try {
      const repository = await this.bus.request(getRepository, { name });
      return { shared: repository.shared, anonymousPull: repository.anonymousPull };
    } catch (error) {
      // Unknown repository (or a name metadata refuses): nothing widens the decision.
      if (error instanceof MuelleError && (error.code === 'NOT_FOUND' || error.code === 'INVALID_MESSAGE')) return null;
      throw error;
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

function tokenSubject(name: string, claim: TokenSubject | undefined): Subject | null {
  return claim ? { id: claim.id, name, kind: claim.kind ?? 'user', role: claim.role, teamId: claim.teamId, teamName: claim.teamName, ...(claim.scopes ? { scopes: claim.scopes } : {}) } : null;
}

function parseBasic(header: string | undefined): { username: string; password: string } | null {
  const encoded = header && /^Basic\s+(\S+)$/i.exec(header)?.[1];
  if (!encoded) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
