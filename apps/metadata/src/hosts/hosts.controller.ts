import { Controller, Inject, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { HandleEvent, HandleRequest } from '@muelle/bus';
import { getHost, HostCapacity, hostHeartbeat, listHosts, registerHost, RegisterHostRequest } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { HostsService } from './hosts.service';
import { METADATA_CONFIG } from '../tokens';
import type { MetadataConfig } from '../config';

@Controller()
export class HostsController implements OnModuleInit, OnModuleDestroy {
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly hosts: HostsService,
    @Inject(METADATA_CONFIG) private readonly config: MetadataConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @HandleRequest(registerHost)
  register(request: RegisterHostRequest) {
    return this.hosts.register(request);
  }

  @HandleRequest(listHosts)
  list(request: { limit: number; cursor?: string }) {
    return this.hosts.list(request.limit, request.cursor);
  }

  @HandleRequest(getHost)
  get(request: { id: string }) {
    return this.hosts.get(request.id);
  }

  @HandleEvent(hostHeartbeat)
  async heartbeat(event: { id: string; at: string; capacity?: HostCapacity }) {
    await this.hosts.heartbeat(event.id, new Date(event.at), event.capacity);
  }

  onModuleInit() {
    const seconds = this.config.MUELLE_HOST_DOWN_AFTER_SECONDS;
    this.sweeper = setInterval(() => {
      this.hosts.markSilentHostsDown(seconds).then(
        (down) => down.length && this.logger.warn({ hosts: down }, 'hosts missed their heartbeats: marked down'),
        (error) => this.logger.warn({ err: error }, 'host sweep failed'),
      );
    }, Math.max(1_000, (seconds * 1000) / 3));
    this.sweeper.unref();
  }

  onModuleDestroy() {
    clearInterval(this.sweeper);
  }
}
