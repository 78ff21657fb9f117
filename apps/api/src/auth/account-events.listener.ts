import { Controller, Inject } from '@nestjs/common';
import { HandleEvent } from '@muelle/bus';
import { accountsChanged, PayloadOf } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { Authenticator } from './authenticator';

/** Every api replica (not one of the queue group) forgets credentials that stopped working. */
@Controller()
export class AccountEventsListener {
  constructor(
    private readonly authenticator: Authenticator,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @HandleEvent(accountsChanged, { everyReplica: true })
  onAccountsChanged(change: PayloadOf<typeof accountsChanged>) {
    const dropped = this.authenticator.forget(change);
    this.logger.debug({ change, dropped }, 'cached credentials forgotten');
  }
}
