import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { hostHeartbeat, registerHost } from '@muelle/contracts';
import { diskSpaceCheck, LOGGER, ReadinessRegistry, SERVICE_INFO, ServiceInfo } from '@muelle/service-kit';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { AgentConfig, underlayAddressOf } from '../config';
import { AGENT_CONFIG } from '../tokens';
import { measureCapacity } from './capacity';
import { RuntimeLifecycle } from '../containers/runtime.service';

/**
 * Announces this host to the platform and keeps it alive with heartbeats. Registration is retried
 * until metadata answers, and repeated after a bus outage, so the host comes back by itself.
 */
@Injectable()
export class HostRegistrationService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private registered = false;
  private stopped = false;
  /** The not-ready reason metadata has; a change is registered again at the next tick. */
  private reportedNotReady: string | null = null;
  /** The last registration failure logged: a retry that fails the same way every second is logged once. */
  private lastFailure?: string;

  constructor(
    private readonly bus: BusClient,
    private readonly readiness: ReadinessRegistry,
    @Inject(AGENT_CONFIG) private readonly config: AgentConfig,
    @Inject(SERVICE_INFO) private readonly info: ServiceInfo,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly runtime: RuntimeLifecycle,
  ) {}

  onApplicationBootstrap() {
    mkdirSync(this.config.MUELLE_DATA_DIR, { recursive: true });
    this.readiness.register('registration', async () => {
      if (!this.registered) throw new Error(`host ${this.config.MUELLE_HOST_ID} not registered yet`);
    });
    this.readiness.register('disk', diskSpaceCheck(this.config.MUELLE_DATA_DIR, this.config.MUELLE_MIN_FREE_BYTES));
    void this.tick();
  }

  onModuleDestroy() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    try {
      const notReady = await this.runtime.notReadyReason();
      if (!this.registered || notReady !== this.reportedNotReady) await this.register(notReady);
      else await this.bus.emit(hostHeartbeat, { id: this.config.MUELLE_HOST_ID, at: new Date().toISOString(), capacity: await this.capacity() });
    } catch (error) {
      if (this.registered) this.logger.warn({ err: error }, 'heartbeat failed; will register again');
      else if ((error as Error).message !== this.lastFailure) {
        // Without this a host that metadata refuses (or that cannot reach it) retries in silence for ever.
        this.logger.warn({ err: error, host: this.config.MUELLE_HOST_ID }, 'registration failed; retrying every second');
      }
      this.lastFailure = (error as Error).message;
      this.registered = false;
    }
    if (this.stopped) return;
    const delay = this.registered ? this.config.MUELLE_HEARTBEAT_SECONDS * 1000 : 1_000;
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private capacity() {
    return measureCapacity(this.config.MUELLE_DATA_DIR, this.config.MUELLE_MIN_FREE_BYTES);
  }

  private async register(notReady: string | null): Promise<void> {
    const host = await this.bus.request(registerHost, {
      id: this.config.MUELLE_HOST_ID,
      address: this.config.MUELLE_HOST_ADDRESS,
      capacity: await this.capacity(),
      labels: this.config.MUELLE_HOST_LABELS,
      agentVersion: this.info.version,
      notReady,
      underlayAddress: underlayAddressOf(this.config),
    });
    this.registered = true;
    this.lastFailure = undefined;
    this.reportedNotReady = notReady;
    if (notReady) this.logger.warn({ host: host.id, reason: notReady }, 'host registered as unable to make containers');
    else this.logger.info({ host: host.id, capacity: host.capacity }, 'host registered');
  }
}
