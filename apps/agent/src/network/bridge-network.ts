import { access, readFile, writeFile } from 'node:fs/promises';
import { runHostCommand, type NetworkMode } from '@muelle/isolation';
import { chooseFirewall, FirewallBackend, FirewallBackendName } from './firewall';
import { Ipam, parseSubnet } from './ipam';
import { assertSubnetFree } from './subnet-overlap';
import { endpointMac, type ResolvedPort } from '@muelle/contracts';
import type { LiveEndpoint } from './live-endpoint';
import { publishedPortRules } from './published-ports';
import type { BridgeMember, PublishedPortRule, RemoteMember } from './rules';

/** Which containers share a network group: the team's id, or this key for containers without a team. */
export const NO_TEAM_GROUP = 'no-team';

/**
 * One Linux bridge per host and a veth pair per container. The firewall (nftables, else
 * iptables; see rules.ts) confines containers to the outside world and their own team's
 * containers, and forwards published ports in the kernel (DNAT), so they keep answering while the
 * agent is stopped or restarting. It is rebuilt from `members` and `published` on every container
 * start and exit; after an agent start, only once the re-adopted containers are known (`sync`): until
 * then the previous run's rules stay in the kernel and keep serving.
 */
export class BridgeNetwork {
  private addresses?: { subnet: string; ipam: Ipam; prefix: number };
  private firewall?: FirewallBackend;
  private readonly members = new Map<string, BridgeMember>();
  private readonly published = new Map<string, PublishedPortRule[]>();
  private synced = false;
  /** An overlay network's containers on other hosts and its VXLAN port (overlay-networks.ts). */
  private overlay: { device: string; remote: RemoteMember[] } | undefined;
  private applying: Promise<unknown> = Promise.resolve();

  constructor(
    readonly bridge: string,
    /** Resolved at init: configured, or granted by metadata's address manager (bridge-subnet.ts). */
    private readonly subnetSource: () => Promise<string>,
    private readonly ipamFile: string,
    private readonly firewallPreference: 'auto' | FirewallBackendName = 'auto',
    /**
     * A user network's own gateway (else the subnet's first address), `--internal` (no way out), a
     * resolver on the gateway (dns/), its id (part of each container's MAC on it) and its containers'
     * MTU (lowered on overlay networks).
     */
    private readonly options: { gateway?: string; internal?: boolean; resolver?: boolean; networkId?: string; mtu?: number } = {},
  ) {}

  private get initialised() {
    if (!this.addresses) throw new Error('container network not initialised');
    return this.addresses;
  }

  get subnet(): string {
    return this.initialised.subnet;
  }

  get ipam(): Ipam {
    return this.initialised.ipam;
  }

  /** The bridge's own address: containers' default route. */
  get gateway(): string {
    return this.options.gateway ?? this.ipam.gateway;
  }

  private get prefix(): number {
    return this.initialised.prefix;
  }

  /** The firewall backend chosen at start (reported by /readyz). */
  get firewallName(): FirewallBackendName | undefined {
    return this.firewall?.name;
  }

  async init(): Promise<void> {
    const subnet = await this.subnetSource();
    const prefix = parseSubnet(subnet).prefix;
    await assertSubnetFree(subnet, this.bridge);
    this.addresses = { subnet, prefix, ipam: new Ipam(this.ipamFile, subnet) };
    await this.ipam.load();
    // `ip` fails when there is no such device: it is made below.
    const links = await runHostCommand('ip', ['-o', 'link', 'show', 'dev', this.bridge]).catch(() => '');
    if (!links) await runHostCommand('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    const addrs = await runHostCommand('ip', ['-o', '-4', 'addr', 'show', 'dev', this.bridge]);
    const gatewayCidr = `${this.gateway}/${this.prefix}`;
    if (!addrs.includes(` ${gatewayCidr} `)) await runHostCommand('ip', ['addr', 'add', gatewayCidr, 'dev', this.bridge]);
    await runHostCommand('ip', ['link', 'set', this.bridge, 'up']);
    if ((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim() !== '1') await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    // A host client of 127.0.0.1:PORT is DNATed to a container; the kernel routes a loopback source
    // out of the bridge only with route_localnet (the rules then masquerade it). The input rules
    // keep containers away from the host's addresses, 127.0.0.1 included.
    await writeFile(`/proc/sys/net/ipv4/conf/${this.bridge}/route_localnet`, '1');
    this.firewall = await chooseFirewall(this.firewallPreference);
    // Earlier versions NATed with a bare iptables rule; NAT is now part of our own rule set.
    await runHostCommand('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', this.subnet, '!', '-o', this.bridge, '-j', 'MASQUERADE']).catch(() => undefined); // absent: nothing stale
    // A FORWARD policy of DROP set by another tool (dockerd) would drop our traffic; our own drops still apply.
    if (this.firewall.name === 'iptables' || (await hasIptables())) {
      await ensureIptablesRule('filter', 'FORWARD', ['-i', this.bridge, '-j', 'ACCEPT']);
      await ensureIptablesRule('filter', 'FORWARD', ['-o', this.bridge, '-j', 'ACCEPT']);
    }
  }

  /**
   * Containers re-adopted at start join the rule set together: this first apply replaces whatever a
   * previous run left (stale rules included) in one transaction, so published ports never go dark.
   */
  async sync(members: ReadonlyArray<{ containerId: string; ipAddress: string; group: string; hostInterface?: string }>): Promise<void> {
    for (const m of members) this.members.set(m.containerId, this.member(m.containerId, m.ipAddress, m.group, m.hostInterface));
    this.synced = true;
    await this.applyRules();
  }

  /** Published ports of the runtime's containers: kernel rules that outlive this process. */
  readonly ports = {
    /** Forwards the container's published ports (staged until `sync` while the agent starts). */
    open: async (containerId: string, targetIp: string, ports: readonly ResolvedPort[]): Promise<void> => {
      this.published.set(containerId, publishedPortRules(targetIp, ports));
      await this.applyRules();
    },
    /** When the container exited or was removed. */
    close: async (containerId: string): Promise<void> => {
      if (this.published.delete(containerId)) await this.applyRules();
    },
  };

  /** Before the container's workload runs: its address and group join the rule set (`hostInterface`: a later network's veth end, live-endpoint.ts). */
  async join(containerId: string, ipAddress: string, group: string, hostInterface?: string): Promise<void> {
    this.members.set(containerId, this.member(containerId, ipAddress, group, hostInterface));
    await this.applyRules();
  }

  /** After the container exited or was removed. */
  async leave(containerId: string): Promise<void> {
    if (!this.members.delete(containerId)) return;
    await this.applyRules();
  }

  /** The network's containers on other hosts, reachable through its VXLAN device `device`; rules re-applied when they changed. */
  async setRemote(device: string, remote: readonly RemoteMember[]): Promise<void> {
    const next = { device, remote: [...remote].sort((a, b) => (a.ipAddress < b.ipAddress ? -1 : 1)) };
    if (JSON.stringify(next) === JSON.stringify(this.overlay)) return;
    this.overlay = next;
    await this.applyRules();
  }

  /** Removes this bridge's rules (tests, uninstall); the bridge itself stays. */
  async removeRules(): Promise<void> {
    await this.firewall?.remove(this.bridge);
  }

  private member(containerId: string, ipAddress: string, group: string, hostInterface?: string): BridgeMember {
    return { hostInterface: hostInterface ?? this.names(containerId).host, ipAddress, group };
  }

  /** Changes are applied one at a time, each from the current members (the latest always wins). */
  private applyRules(): Promise<void> {
    const firewall = this.firewall;
    if (!firewall) return Promise.reject(new Error('container network not initialised'));
    if (!this.synced) return Promise.resolve(); // sync applies everything staged so far
    const run = () =>
      firewall.apply({
        bridge: this.bridge,
        subnet: this.subnet,
        members: [...this.members.values()],
        published: [...this.published.values()].flat(),
        internal: this.options.internal === true,
        ...(this.options.resolver ? { resolver: this.gateway } : {}),
        remote: this.overlay?.remote ?? [],
        overlayInterface: this.overlay?.device,
      });
    const next = this.applying.then(run, run);
    this.applying = next.catch(() => undefined); // the caller gets the error from `next`; the chain only waits
    return next;
  }

  private names(containerId: string) {
    const short = containerId.slice(0, 10);
    return { host: `mv${short}`, peer: `mp${short}` };
  }

  /** Per endpoint: the user network's id takes part, so another host computes the same MAC (endpoint-mac.ts). */
  macFor(containerId: string): string {
    return endpointMac(containerId, this.options.networkId);
  }

  /**
   * How the isolation helper wires a container into the bridge: it creates the veth pair over
   * netlink (host end in the bridge, `eth0` inside) and the container sets its address and route,
   * so a start spawns no `ip` process.
   */
  attachment(containerId: string, ipAddress: string): Extract<NetworkMode, { mode: 'bridge' }> {
    return {
      mode: 'bridge',
      bridge: this.bridge,
      hostInterface: this.names(containerId).host,
      macAddress: this.macFor(containerId),
      address: `${ipAddress}/${this.prefix}`,
      gateway: this.gateway,
      ...(this.options.mtu ? { mtu: this.options.mtu } : {}),
    };
  }

  /** A container's second or later network: wired into its running namespace by the agent (live-endpoint.ts), not the helper. */
  liveAttachment(containerId: string, ipAddress: string, hostInterface: string, ifName: string): LiveEndpoint {
    return {
      bridge: this.bridge,
      hostInterface,
      ifName,
      macAddress: this.macFor(containerId),
      address: `${ipAddress}/${this.prefix}`,
      ...(this.options.mtu ? { mtu: this.options.mtu } : {}),
    };
  }

  /** The veth dies with the namespace; this removes a host end left behind by a failed start. */
  async detach(containerId: string): Promise<void> {
    const host = this.names(containerId).host;
    if (!(await access(`/sys/class/net/${host}`).then(() => true, () => false))) return;
    // Gone since the check when its namespace went: nothing left to remove.
    await runHostCommand('ip', ['link', 'del', host]).catch(() => undefined);
  }
}

async function hasIptables(): Promise<boolean> {
  return runHostCommand('iptables', ['-w', '-L', 'FORWARD', '-n']).then(() => true, () => false);
}

/**
 * Last in the chain (moved there if an earlier version inserted it first): with several bridges
 * (team networks), a bridge's blanket ACCEPT must come after every bridge's own chain, whose drops
 * the iptables backend puts first, or it would accept what another bridge's chain drops.
 */
async function ensureIptablesRule(table: string, chain: string, rule: string[]): Promise<void> {
  await runHostCommand('iptables', ['-w', '-t', table, '-D', chain, ...rule]).catch(() => undefined); // absent: nothing to move
  await runHostCommand('iptables', ['-w', '-t', table, '-A', chain, ...rule]);
}
