import { Controller, Inject, Injectable } from '@nestjs/common';
import { BusClient, HandleEvent } from '@muelle/bus';
import { accountsChanged, AuthenticatedPrincipal, authenticateToken, authenticateUser, MuelleError, PayloadOf } from '@muelle/contracts';
import { CREDENTIAL_CACHE_MS, CredentialCache, ownerOfPrincipal } from '@muelle/authz';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { RegistryError } from '../errors';

/**
 * The token endpoint's credential check: a user's password or an `mle_` API/robot token, checked
 * by metadata (which throttles failed passwords per account and client address: 429 with
 * Retry-After). Successes are cached briefly (CredentialCache: HMAC keys, never the password),
 * so `docker login` and CI pushes do not pay a scrypt per token request; revocation events clear them.
 */
@Injectable()
export class RegistryCredentials {
  private readonly verified = new CredentialCache<AuthenticatedPrincipal>(CREDENTIAL_CACHE_MS, 10_000, ownerOfPrincipal);

  constructor(private readonly bus: BusClient) {}

  async check(basic: { username: string; password: string }, clientAddress: string | undefined, service: string): Promise<AuthenticatedPrincipal> {
    const address = clientAddress ? { clientAddress: clientAddress.slice(0, 100) } : {};
    try {
      return basic.password.startsWith('mle_')
        ? await this.verified.get(['token', basic.password], () => this.bus.request(authenticateToken, { token: basic.password, ...address }))
        : await this.verified.get(['basic', basic.username, basic.password], () => this.bus.request(authenticateUser, { username: basic.username, password: basic.password, ...address }));
    } catch (error) {
      if (error instanceof MuelleError && (error.code === 'UNAUTHENTICATED' || error.code === 'INVALID_MESSAGE')) {
        throw new RegistryError('UNAUTHORIZED', 'incorrect username or password', undefined, { headers: { 'WWW-Authenticate': `Basic realm="${service}"` } });
      }
      throw error;
    }
  }

  forget(change: PayloadOf<typeof accountsChanged>): number {
    return this.verified.forget({ userId: change.userId, tokenId: change.tokenId });
  }
}

/** Every registry replica (outside the queue group) forgets credentials that stopped working. */
@Controller()
export class RegistryAccountEventsListener {
  constructor(
    private readonly credentials: RegistryCredentials,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @HandleEvent(accountsChanged, { everyReplica: true })
  onAccountsChanged(change: PayloadOf<typeof accountsChanged>) {
    this.logger.debug({ change, dropped: this.credentials.forget(change) }, 'cached credentials forgotten');
  }
}
