import { Controller, Inject, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { HandleEvent } from '@muelle/bus';
import { containerNetworksChanged, containerStateChanged, networkRemoved, type PayloadOf } from '@muelle/contracts';
import { AgentConfig } from '../config';
import { AGENT_CONFIG, OVERLAY } from '../tokens';
import { OverlayNetworks } from './overlay-networks';

/**
 * Every agent hears every host's container state changes and network connects/disconnects (outside
 * the agents' queue group) and reconciles its overlay forwarding from them, and every network removal (its devices leave the
 * host); the periodic pass heals a missed event. A host with MUELLE_RUNTIME=disabled has no
 * containers to forward for, and keeps out of it (as of the routing mesh).
 */
@Controller()
export class OverlayController implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(OVERLAY) private readonly overlay: OverlayNetworks,
    @Inject(AGENT_CONFIG) private readonly config: AgentConfig,
  ) {}

  onApplicationBootstrap() {
    // Stopped, events ask for no pass either.
    if (this.config.MUELLE_RUNTIME === 'disabled') this.overlay.stop();
    else this.overlay.start();
  }

  onModuleDestroy() {
    this.overlay.stop();
  }

  @HandleEvent(containerStateChanged, { everyReplica: true })
  stateChanged() {
    this.overlay.containerChanged();
  }

  @HandleEvent(containerNetworksChanged, { everyReplica: true })
  networksChanged() {
    this.overlay.containerChanged();
  }

  @HandleEvent(networkRemoved, { everyReplica: true })
  async networkRemoved({ id }: PayloadOf<typeof networkRemoved>) {
    if (this.config.MUELLE_RUNTIME === 'disabled') return; // none of its devices were made here
    await this.overlay.networkRemoved(id);
  }
}
