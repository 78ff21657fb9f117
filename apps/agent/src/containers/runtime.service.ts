import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { LOGGER, ReadinessRegistry } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { AgentConfig } from '../config';
import { ImageStore } from '../images/image-store';
import { VolumeStore } from '../volumes/volume-store';
import { BridgeNetwork } from '../network/bridge-network';
import { AGENT_CONFIG, IMAGE_STORE, RUNTIME, VOLUME_STORE } from '../tokens';
import { ContainerRuntime } from './container-runtime';

/** Brings the host up (stores, bridge, re-adoption) at boot; containers keep running at shutdown. */
@Injectable()
export class RuntimeLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  private ready = false;
  private failure?: Error;

  constructor(
    @Inject(RUNTIME) private readonly runtime: ContainerRuntime,
    @Inject(IMAGE_STORE) private readonly images: ImageStore,
    @Inject(VOLUME_STORE) private readonly volumes: VolumeStore,
    @Inject('BRIDGE') private readonly network: BridgeNetwork,
    @Inject(AGENT_CONFIG) private readonly config: AgentConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly readiness: ReadinessRegistry,
  ) {}

  async onApplicationBootstrap() {
    if (this.config.MUELLE_RUNTIME === 'disabled') return this.runtime.unavailable('MUELLE_RUNTIME=disabled');
    this.readiness.register('runtime', async () => {
      if (this.failure) throw this.failure;
      if (!this.ready) throw new Error('container runtime starting');
      await this.runtime.checkHealth();
    });
    this.readiness.register('network', async () => {
      if (this.failure) throw this.failure;
      if (!this.network.firewallName) throw new Error('container network starting');
      return `bridge ${this.network.bridge}, firewall ${this.network.firewallName}`;
    });
    // In the background: the bridge subnet may wait for metadata's address manager (a standalone
    // agent started before metadata), and the agent serves /healthz and stops on signals meanwhile.
    void this.start();
  }

  private async start() {
    try {
      await this.images.init();
      await this.volumes.init();
      await this.network.init();
      await this.runtime.init();
      this.ready = true;
      this.logger.info({ containers: this.runtime.all().length }, 'container runtime ready');
    } catch (error) {
      this.failure = error as Error;
      this.runtime.unavailable((error as Error).message);
      this.logger.error({ err: error }, 'container runtime failed to start');
    }
  }

  /** Why this host cannot make containers now, or null: registration reports it so the scheduler skips the host. */
  async notReadyReason(): Promise<string | null> {
    if (this.config.MUELLE_RUNTIME === 'disabled') return 'MUELLE_RUNTIME=disabled';
    if (this.failure) return `container runtime failed to start: ${this.failure.message}`;
    // Starting is not a reason: requests wait for re-adoption to finish.
    if (!this.ready) return null;
    try {
      await this.runtime.checkHealth();
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async onModuleDestroy() {
    await this.runtime.close();
  }
}
