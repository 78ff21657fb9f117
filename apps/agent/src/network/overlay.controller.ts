import { Controller, Inject, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { HandleEvent } from '@muelle/bus';
import { containerNetworksChanged, containerStateChanged, networkRemoved, type PayloadOf } from '@muelle/contracts';
import { OVERLAY } from '../tokens';
import { OverlayNetworks } from './overlay-networks';

/**
 * Every agent hears every host's container state changes and network connects/disconnects (outside
 * the agents' queue group) and reconciles its overlay forwarding from them, and every network removal (its devices leave the
 * host); the periodic pass heals a missed event.
 */
@Controller()
export class OverlayController implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(@Inject(OVERLAY) private readonly overlay: OverlayNetworks) {}

  onApplicationBootstrap() {
    this.overlay.start();
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
    await this.overlay.networkRemoved(id);
  }
}
