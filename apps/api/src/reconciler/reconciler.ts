import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { containerStateChanged, HostRecord, MuelleError } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { API_CONFIG, ApiConfig } from '../config';
import { ContainersService } from '../containers/containers.service';
import { EventHub } from '../events/event-hub';
import { Cluster } from '../hosts/cluster';
import { HostsService, isRestartable } from '../hosts/hosts.service';
import { PeriodicRound } from './periodic-round';
import { ContainerMoves } from '../containers/container-moves';

/**
 * Keeps placement true to the hosts: metadata marks a silent host `down`; this loop then moves
 * its containers that have a restart policy to other hosts and records the others as `lost`.
 * When a host comes back, copies of containers that now live elsewhere are removed from it.
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop = new PeriodicRound(() => this.pass());
  private readonly lastState = new Map<string, HostRecord['state']>();

  constructor(
    private readonly bus: BusClient,
    private readonly cluster: Cluster,
    private readonly hosts: HostsService,
    private readonly containers: ContainersService,
    private readonly moves: ContainerMoves,
    private readonly hub: EventHub,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap() {
    this.loop.start(this.config.MUELLE_RECONCILE_SECONDS);
  }

  onApplicationShutdown() {
    this.loop.stop();
  }

  /** One pass; never two at once. Public so tests can drive it. */
  round(): Promise<void> {
    return this.loop.run();
  }

  private async pass(): Promise<void> {
    try {
      for (const host of await this.cluster.hosts()) {
        const before = this.lastState.get(host.id);
        this.lastState.set(host.id, host.state);
        if (before !== undefined && before !== host.state) {
          // Every replica's loop sees the change itself, so each tells only its own subscribers.
          this.hub.deliver({
            type: 'host',
            action: host.state,
            id: host.id,
            teamId: null,
            at: new Date().toISOString(),
            attributes: { address: host.address },
          });
          if (host.state === 'ready') await this.removeStaleCopies(host);
        }
        if (host.state === 'down') await this.evacuate(host);
      }
    } catch (error) {
      if (!(error instanceof MuelleError && ['UNAVAILABLE', 'TIMEOUT'].includes(error.code))) this.logger.error({ err: error }, 'reconcile round failed');
    }
  }

  private async evacuate(host: HostRecord) {
    const records = await this.hosts.containersOn(host.id);
    try {
      // One pass: placed from one usage snapshot, recorded in one metadata transaction (`moveAll`).
      for (const { record, to, error } of await this.moves.moveAll(records.filter(isRestartable), host.id, 'host down')) {
        if (to && !error) this.logger.info({ container: record.id, from: host.id, to }, 'container moved off a down host');
        if (error) this.logger.warn({ err: error, container: record.id, to }, 'container recorded moved off a down host but not made on its new host');
      }
    } catch (error) {
      this.logger.warn({ err: error, host: host.id }, 'moving containers off a down host failed; retrying next round');
    }
    for (const record of records.filter((r) => !isRestartable(r))) {
      await this.bus.emit(containerStateChanged, {
        id: record.id,
        hostId: host.id,
        state: 'lost',
        at: new Date().toISOString(),
      });
      this.containers.publish(record, 'lost');
    }
  }

  private async removeStaleCopies(host: HostRecord) {
    try {
      const { items } = await this.bus.request(this.containers.agent(host.id).list, {});
      for (const copy of items) {
        const record = await this.containers.recordById(copy.id);
        if (record && record.hostId !== host.id) await this.moves.removeStaleCopy(host.id, copy.id);
      }
    } catch (error) {
      this.logger.warn({ err: error, host: host.id }, 'could not check a returning host for stale containers');
    }
  }
}
