import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { accountsChanged, AuthenticatedPrincipal, authenticateToken, authenticateUser, PayloadOf, UnauthenticatedError } from '@muelle/contracts';
import { CREDENTIAL_CACHE_MS, CredentialCache, ownerOfPrincipal } from '@muelle/authz';
import { RequestPrincipal } from './principal';

/**
 * Verified credentials are remembered CREDENTIAL_CACHE_MS (10 s): password checks are deliberately
 * slow (scrypt) and clients send the same header on every request. A disabled user, changed
 * password or revoked token is forgotten at once when metadata's `accountsChanged` event arrives,
 * and at the latest after that window if the event is lost.
 */
const CACHE_MAX = 10_000;

/**
 * Turns an Authorization header into a principal: `Bearer <mle_ token>` or Basic user:password,
 * both checked by metadata (which also throttles failed passwords per account and address).
 */
@Injectable()
export class Authenticator {
  private readonly verified = new CredentialCache<AuthenticatedPrincipal>(CREDENTIAL_CACHE_MS, CACHE_MAX, ownerOfPrincipal);

  constructor(private readonly bus: BusClient) {}

  async authenticate(header: string | undefined, clientAddress?: string): Promise<RequestPrincipal> {
    const credential = parseAuthorization(header);
    const principal =
      credential.kind === 'bearer'
        ? await this.checkToken(credential.token, clientAddress)
        : await this.checkPassword(credential.username, credential.password, clientAddress);
    const { tokenId: _tokenId, expiresAt: _expiresAt, ...rest } = principal;
    const password = credential.kind === 'bearer' ? credential.token : credential.password;
    return { ...rest, registryCredentials: { username: principal.user.username, password } };
  }

  /** An API token (also the console's session), with its id and expiry; cached like a header. */
  checkToken(token: string, clientAddress?: string): Promise<AuthenticatedPrincipal> {
    return this.verified.get(['bearer', token], () => this.bus.request(authenticateToken, { token, ...address(clientAddress) }));
  }

  /** A username/password pair (Basic, or the Docker API's `/auth`), cached like a header. */
  checkPassword(username: string, password: string, clientAddress?: string): Promise<AuthenticatedPrincipal> {
    return this.verified.get(['basic', username, password], () => this.bus.request(authenticateUser, { username, password, ...address(clientAddress) }));
  }

  /** `accountsChanged`: forget the user's or token's cached credentials now. */
  forget(change: PayloadOf<typeof accountsChanged>): number {
    return this.verified.forget({ userId: change.userId, tokenId: change.tokenId });
  }
}

type Credential = { kind: 'bearer'; token: string } | { kind: 'basic'; username: string; password: string };

function parseAuthorization(header: string | undefined): Credential {
  const [scheme, value] = (header ?? '').split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer' && value?.trim()) return { kind: 'bearer', token: value.trim() };
  if (scheme?.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new UnauthenticatedError('malformed basic credentials');
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw new UnauthenticatedError('send a bearer token or basic credentials');
}

const address = (clientAddress?: string) => (clientAddress ? { clientAddress: clientAddress.slice(0, 100) } : {});
