import type { OverlayPeersReply } from '@muelle/contracts';
import type { Logger } from 'pino';
import { chooseFirewall, FirewallBackendName } from './firewall';
import { applyOverlayFirewall } from './overlay-firewall';
import { desiredEntries } from './overlay-plan';
import { ReconcileLoop } from './reconcile-loop';
import { UserNetworks } from './user-networks';
import { overlayMtu, VxlanDevice } from './vxlan';

export interface OverlayOptions {
  hostId: string;
  /** The address other hosts send this host's VXLAN datagrams to; null: no overlay network spans this host. */
  underlayAddress: string | null;
  /** UDP port of VXLAN (MUELLE_VXLAN_PORT). */
  port: number;
  /** Reconcile at least this often (MUELLE_OVERLAY_RECONCILE_SECONDS), so a missed event heals. */
  reconcileSeconds: number;
  firewallPreference: 'auto' | FirewallBackendName;
  /** The platform's record (metadata) of the networks' containers on other hosts. */
  peers(networkIds: string[]): Promise<OverlayPeersReply>;
  /** Ids of every network metadata records: a network this host still has devices for and that is not among them was removed. */
  liveNetworkIds(): Promise<string[]>;
  logger: Logger;
}

/**
 * Makes overlay networks span hosts. For each network with a bridge on this host, a VXLAN device
 * in that bridge carries frames to the hosts that run the network's other containers; its
 * forwarding and neighbour entries, the bridge's rules for those remote containers, and the VXLAN
 * port's firewall (registered hosts only) follow the platform's record. Reconciled after every
 * container event (any host's) and every `reconcileSeconds`; one pass at a time, a request during a
 * pass runs one more. Each periodic pass also removes the bridges, rule tables and VXLAN devices of
 * networks metadata no longer records (a host that was down at the removal catches up); the removal
 * event does the same at once.
 */
export class OverlayNetworks {
  private readonly loop: ReconcileLoop;
  private firewallKey?: string;
  private mtu?: Promise<number | undefined>;
  private refusedLogged = false;

  constructor(
    private readonly options: OverlayOptions,
    private readonly networks: UserNetworks,
  ) {
    this.loop = new ReconcileLoop(() => this.pass(), options.reconcileSeconds, options.logger, 'overlay networks', () => this.prune());
  }

  /** Containers' MTU on overlay networks: the underlay's less VXLAN's headers; the kernel's default without an underlay. */
  containerMtu(): Promise<number | undefined> {
    const underlay = this.options.underlayAddress;
    this.mtu ??= underlay ? overlayMtu(underlay) : Promise.resolve(undefined);
    // A failure is reported to the container start that asked; the next one measures again.
    this.mtu.catch(() => (this.mtu = undefined));
    return this.mtu;
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** A container started or stopped somewhere: reconcile shortly (events close together make one pass). */
  containerChanged(): void {
    this.loop.soon();
  }

  /** A network was removed (its event): its devices leave this host once the running pass is done. */
  async networkRemoved(networkId: string): Promise<void> {
    await this.loop.idle();
    const outcome = await this.networks.remove(networkId).catch((error: Error) => {
      this.options.logger.warn({ err: error, networkId }, 'removed network not cleaned up; the periodic pass retries');
      return 'failed' as const;
    });
    if (outcome === 'in-use') this.options.logger.warn({ networkId }, 'removed network kept: its bridge still has a container port');
    else if (outcome === 'removed') this.options.logger.info({ networkId }, 'removed network taken off this host');
  }

  /** Networks metadata no longer records leave this host; errors are logged (the next tick tries again). */
  private async prune(): Promise<void> {
    if (this.loop.isStopped) return;
    await this.networks
      .prune(() => this.options.liveNetworkIds())
      .then((removed) => removed.length && this.options.logger.info({ bridges: removed }, 'removed networks taken off this host'))
      .catch((error: Error) => this.options.logger.warn({ err: error }, 'removed networks not cleaned up; retrying at the next tick'));
  }

  /** One pass; errors are logged (the next event or tick tries again). */
  reconcile(): Promise<void> {
    return this.loop.run();
  }

  private async pass(): Promise<void> {
    const opened = (await this.networks.opened()).filter((o) => o.endpoint.driver !== 'bridge');
    if (!opened.length) return;
    const underlay = this.options.underlayAddress;
    if (!underlay) {
      // Refused, not guessed: a VXLAN device sourcing from a wrong address would be dropped by every other host.
      if (!this.refusedLogged) this.options.logger.error({ networks: opened.map((o) => o.endpoint.name) }, 'no VXLAN device made: this host has no underlay address (set MUELLE_UNDERLAY_ADDRESS); its overlay networks reach no other host');
      this.refusedLogged = true;
      return;
    }
    const reply = await this.options.peers(opened.map((o) => o.endpoint.id));
    await this.firewall(reply.hosts);
    const mtu = await this.containerMtu();
    for (const network of reply.networks) {
      const local = opened.find((o) => o.endpoint.id === network.id);
      if (!local || !mtu) continue;
      const device = new VxlanDevice(VxlanDevice.nameFor(network.id), network.vni, underlay, this.options.port, local.bridge.bridge, mtu);
      await device.ensure();
      // Rules first: a remote container's frames are let in before its forwarding entry exists.
      await local.bridge.setRemote(device.name, network.peers.map((p) => ({ ipAddress: p.address, group: network.id })));
      const changes = await device.program(desiredEntries(network.id, network.peers));
      const changed = changes.fdbSet.length + changes.fdbDelete.length + changes.neighbourSet.length + changes.neighbourDelete.length;
      if (changed) this.options.logger.info({ network: local.endpoint.name, vni: network.vni, peers: network.peers.length, changed }, 'overlay forwarding updated');
    }
  }

  /** The VXLAN port's rule, re-applied only when the registered hosts changed. */
  private async firewall(hosts: readonly string[]): Promise<void> {
    const key = JSON.stringify([...hosts].sort());
    if (key === this.firewallKey) return;
    const backend = await chooseFirewall(this.options.firewallPreference);
    await applyOverlayFirewall(backend.name, this.options.port, hosts);
    this.firewallKey = key;
  }
}
