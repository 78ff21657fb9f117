import type { MeshRecordReply } from '@muelle/contracts';
import { runHostCommand } from '@muelle/isolation';
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
    if (!rules.length && this.applied === undefined) {
      // No ingress port anywhere: no kernel work (hosts without a firewall stay quiet); a previous run's table goes.
      await this.teardown();
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
    this.applied = text;
    this.options.logger.info({ ports: rules.map((r) => ({ port: `${r.publishedPort}/${r.protocol}`, replicas: r.backends.length })) }, 'routing mesh updated');
  }

  /** Once per process: the mesh table or chains a previous run left, when there is nothing to publish. */
  private async teardown(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    const gone = () => undefined; // absent (or no such firewall on this host): nothing to remove
    await runHostCommand('nft', ['-f', '-'], { input: meshNftTeardown() }).catch(gone);
    for (const [builtin, ours] of meshIptablesJumps()) await runHostCommand('iptables', ['-w', '-t', 'nat', '-D', builtin, '-j', ours]).catch(gone);
    for (const chain of new Set(meshIptablesJumps().map(([, ours]) => ours))) {
      await runHostCommand('iptables', ['-w', '-t', 'nat', '-F', chain]).catch(gone);
      await runHostCommand('iptables', ['-w', '-t', 'nat', '-X', chain]).catch(gone);
    }
  }

  private async applyIptables(text: string): Promise<void> {
    await runHostCommand('iptables-restore', ['-w', '--noflush'], { input: text });
    if (this.jumpsReady) return;
    for (const [builtin, ours] of meshIptablesJumps()) {
      // The mesh's ports are refused to containers (api), so its place among the bridges' jumps does not matter; `-C` fails when it is not there yet.
      const present = await runHostCommand('iptables', ['-w', '-t', 'nat', '-C', builtin, '-j', ours]).then(() => true, () => false);
      if (!present) await runHostCommand('iptables', ['-w', '-t', 'nat', '-I', builtin, '1', '-j', ours]);
    }
    this.jumpsReady = true;
  }
}
