import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { recordAudit } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { RequestPrincipal, SYSTEM_ACTOR } from '../auth/principal';

/** Writes who changed what; every mutating service method calls it once the change happened. */
@Injectable()
export class AuditLog {
  constructor(
    private readonly bus: BusClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async record(actor: RequestPrincipal | typeof SYSTEM_ACTOR, action: string, target: string, details?: Record<string, unknown>): Promise<void> {
    const who = actor === SYSTEM_ACTOR ? SYSTEM_ACTOR : actor.user.username;
    try {
      await this.bus.request(recordAudit, {
        actor: who,
        action,
        target,
        details,
      });
    } catch (error) {
      // The change already happened; losing its audit line must be loud but must not undo it.
      this.logger.error({ err: error, actor: who, action, target }, 'audit entry could not be written');
    }
  }
}
