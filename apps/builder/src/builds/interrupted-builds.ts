import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { MetadataBuildRecords } from './build-records';

/** At start, the builds the previous process of this builder left `running` are marked failed. */
@Injectable()
export class InterruptedBuilds implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly startedAt = new Date();
  private readonly stopped = new AbortController();

  constructor(
    private readonly records: MetadataBuildRecords,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap() {
    void this.records.failInterrupted(this.startedAt, this.logger.child({ component: 'builds' }), this.stopped.signal);
  }

  onModuleDestroy() {
    this.stopped.abort();
  }
}
