import { Inject, Injectable } from '@nestjs/common';
import { UnauthenticatedError } from '@muelle/contracts';
import { AccountsService } from '../accounts/accounts.service';
import { API_CONFIG, ApiConfig } from '../config';
import { Authenticator } from './authenticator';
import { RequestPrincipal } from './principal';
import { csrfTokenOf } from './session-cookie';

/** Its name in `GET /v1/auth/tokens`, where users see (and may revoke) their open sessions. */
export const SESSION_TOKEN_NAME = 'console session';

export interface SessionView {
  user: RequestPrincipal['user'];
  teamId: string | null;
  teamName: string | null;
  csrfToken: string;
  expiresAt: string | null;
}

/**
 * Console sign-in and sign-out. A session is a personal API token with the session's lifetime,
 * made through AccountsService (so it is audited as `token.create`) after the same password
 * check (and throttle) as Basic auth.
 */
@Injectable()
export class SessionService {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly accounts: AccountsService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  get ttlSeconds(): number {
    return this.config.MUELLE_SESSION_TTL_SECONDS;
  }

  async signIn(username: string, password: string, clientAddress?: string): Promise<{ token: string; view: SessionView }> {
    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const principal = await this.authenticator.authenticate(basic, clientAddress);
    const created = await this.accounts.createToken(principal, { name: SESSION_TOKEN_NAME, ttlSeconds: this.ttlSeconds });
    return { token: created.token, view: viewOf(principal, created.token, created.expiresAt) };
  }

  async describe(principal: RequestPrincipal, sessionToken: string | undefined, clientAddress?: string): Promise<SessionView> {
    const token = requireSession(sessionToken);
    const record = await this.authenticator.checkToken(token, clientAddress);
    return viewOf(principal, token, record.expiresAt ?? null);
  }

  /** Revokes the session's token: every replica refuses it from now on (accountsChanged). */
  async signOut(principal: RequestPrincipal, sessionToken: string | undefined, clientAddress?: string): Promise<void> {
    const record = await this.authenticator.checkToken(requireSession(sessionToken), clientAddress);
    if (!record.tokenId) throw new UnauthenticatedError('no console session to end');
    await this.accounts.revokeToken(principal, record.tokenId);
  }
}

function requireSession(token: string | undefined): string {
  if (!token) throw new UnauthenticatedError('no console session: sign in with POST /v1/auth/session');
  return token;
}

const viewOf = (principal: RequestPrincipal, token: string, expiresAt: string | null): SessionView => ({
  user: principal.user,
  teamId: principal.teamId,
  teamName: principal.teamName,
  csrfToken: csrfTokenOf(token),
  expiresAt,
});
