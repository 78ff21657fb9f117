import type { MeshRecordReply } from '@muelle/contracts';
import { runHostCommand } from '@muelle/isolation';
import { writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { chooseFirewall, FirewallBackend, FirewallBackendName } from './firewall';
import { ReconcileLoop } from './reconcile-loop';
import { meshIptablesJumps, meshIptablesRules, meshNftRules, meshNftTeardown, planMesh } from './mesh-plan';

export interface RoutingMeshOptions {
  hostId: string;
  /** Reconcile at least this often (MUELLE_MESH_RECONCILE_SECONDS), so a missed event heals. */
  reconcileSeconds: number;
  firewallPreference: 'auto' | FirewallBackendName;
  /** The platform's record (metadata): services' ingress ports, their running tasks, hosts' underlay addresses. */
  record(): Promise<MeshRecordReply>;
  /** This host's running containers' bridge addresses, by container id (the local replicas' DNAT targets). */
  localAddresses(): ReadonlyMap<string, string>;
  logger: Logger;
}

/**
 * The routing mesh on this host: every service's ingress port forwarded, in the kernel, to the
 * service's healthy replicas wherever they run (see mesh-plan.ts). The rules are rebuilt from the
 * platform's record after every container state or health event (any host's) and every
 * `reconcileSeconds`, and applied only when they changed. They are never removed when the agent
 * stops: the mesh keeps serving while the agent restarts, and its first pass replaces them.
 */
export class RoutingMesh {
  private readonly loop: ReconcileLoop;
  private applied?: string;
  private jumpsReady = false;
  private cleaned = false;
  private backend?: Promise<FirewallBackend>;
  /** Devices this process gave route_localnet (toward another host's replicas). */
  private readonly localnet = new Set<string>();

  constructor(private readonly options: RoutingMeshOptions) {
    this.loop = new ReconcileLoop(() => this.pass(), options.reconcileSeconds, options.logger, 'routing mesh');
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** A task started, stopped or changed health somewhere: one pass shortly. */
  changed(): void {
    this.loop.soon();
  }

  /** One pass now (or after the running one). */
  reconcile(): Promise<void> {
    return this.loop.run();
  }

  private async pass(): Promise<void> {
    const record = await this.options.record();
    const local = this.options.localAddresses();
    const underlay = new Map(record.hosts.map((h) => [h.id, h.underlayAddress]));
    const services = record.services.map((s) => ({ ports: s.ports, tasks: s.tasks.map((t) => ({ ...t, ipAddress: local.get(t.containerId) ?? null })) }));
    const rules = planMesh(this.options.hostId, services, underlay);
    const others = record.hosts.filter((h) => h.id !== this.options.hostId).map((h) => h.underlayAddress);
    if (!rules.length && this.applied === undefined) {
      // No ingress port anywhere: no kernel work (hosts without a firewall stay quiet); a previous run's table goes.
      await this.teardown(others);
      return;
    }
    this.backend ??= chooseFirewall(this.options.firewallPreference).catch((error: Error) => {
      this.backend = undefined; // asked again at the next pass
      throw error;
    });
    const backend = await this.backend;
    const text = backend.name === 'nftables' ? meshNftRules(rules) : meshIptablesRules(rules);
    if (text === this.applied) return;
    if (backend.name === 'nftables') await runHostCommand('nft', ['-f', '-'], { input: text });
    else await this.applyIptables(text);
    // After the rules: their guard is in place before the devices take loopback traffic.
    const remote = new Set(others);
    await this.routeLocalnet([...new Set(rules.flatMap((r) => r.backends.map((b) => b.address)))].filter((a) => remote.has(a)), true);
    this.applied = text;
    this.options.logger.info({ ports: rules.map((r) => ({ port: `${r.publishedPort}/${r.protocol}`, replicas: r.backends.length })) }, 'routing mesh updated');
  }

  /**
   * Once per process: the mesh table or chains a previous run left, when there is nothing to publish,
   * and the route_localnet it gave the devices toward other hosts (their guard goes with the table).
   */
  private async teardown(otherHosts: string[]): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    const gone = () => undefined; // absent (or no such firewall on this host): nothing to remove
    await runHostCommand('nft', ['-f', '-'], { input: meshNftTeardown() }).catch(gone);
    for (const [table, builtin, ours] of meshIptablesJumps()) await runHostCommand('iptables', ['-w', '-t', table, '-D', builtin, '-j', ours]).catch(gone);
    for (const [chain, table] of new Map(meshIptablesJumps().map(([table, , ours]) => [ours, table]))) {
      await runHostCommand('iptables', ['-w', '-t', table, '-F', chain]).catch(gone);
      await runHostCommand('iptables', ['-w', '-t', table, '-X', chain]).catch(gone);
    }
    await this.routeLocalnet(otherHosts, false);
  }

  /**
   * route_localnet on the devices toward `addresses` (other hosts' underlay addresses): a host client
   * of 127.0.0.1:PORT DNATed to a replica there leaves with its loopback source until postrouting
   * masquerades it, and the kernel routes such a packet out of a device (and its reply back in) only
   * with route_localnet on that device, as BridgeNetwork sets on its bridges. The rules' guard drops
   * what it would otherwise let in.
   */
  private async routeLocalnet(addresses: string[], on: boolean): Promise<void> {
    for (const address of addresses) {
      // Unreachable (no route): no device carries flows to it, nothing to open or close.
      const route = await runHostCommand('ip', ['-o', 'route', 'get', address]).catch(() => '');
      const device = /\sdev\s(\S+)/.exec(route)?.[1];
      if (!device || !/^[\w.-]{1,15}$/.test(device) || (on && this.localnet.has(device))) continue; // no route (or a name not ours to write): nothing to open
      await writeFile(`/proc/sys/net/ipv4/conf/${device}/route_localnet`, on ? '1' : '0');
      if (on) this.localnet.add(device);
    }
  }

  private async applyIptables(text: string): Promise<void> {
    await runHostCommand('iptables-restore', ['-w', '--noflush'], { input: text });
    if (this.jumpsReady) return;
    for (const [table, builtin, ours] of meshIptablesJumps()) {
      // The mesh's ports are refused to containers (api), so its place among the bridges' jumps does not matter; `-C` fails when it is not there yet.
      const present = await runHostCommand('iptables', ['-w', '-t', table, '-C', builtin, '-j', ours]).then(() => true, () => false);
      if (!present) await runHostCommand('iptables', ['-w', '-t', table, '-I', builtin, '1', '-j', ours]);
    }
    this.jumpsReady = true;
  }
}
