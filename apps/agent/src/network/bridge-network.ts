import { createHash } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import { runHostCommand, type NetworkMode } from '@muelle/isolation';
import { Ipam, parseSubnet } from './ipam';
import { assertSubnetFree } from './subnet-overlap';

/**
 * One Linux bridge per host, a veth pair per container, outbound NAT with one iptables
 * MASQUERADE rule. Published ports are served by the agent's userland proxy (PortProxy), which
 * also makes them reachable on 127.0.0.1 without route_localnet.
 */
export class BridgeNetwork {
  readonly ipam: Ipam;
  private readonly prefix: number;

  constructor(
    readonly bridge: string,
    readonly subnet: string,
    ipamFile: string,
  ) {
    this.ipam = new Ipam(ipamFile, subnet);
    this.prefix = parseSubnet(subnet).prefix;
  }

  async init(): Promise<void> {
    await assertSubnetFree(this.subnet, this.bridge);
    await this.ipam.load();
    const links = await runHostCommand('ip', ['-o', 'link', 'show', 'dev', this.bridge]).catch(() => '');
    if (!links) await runHostCommand('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    const addrs = await runHostCommand('ip', ['-o', '-4', 'addr', 'show', 'dev', this.bridge]);
    const gatewayCidr = `${this.ipam.gateway}/${this.prefix}`;
    if (!addrs.includes(` ${gatewayCidr} `)) await runHostCommand('ip', ['addr', 'add', gatewayCidr, 'dev', this.bridge]);
    await runHostCommand('ip', ['link', 'set', this.bridge, 'up']);
    if ((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim() !== '1') await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    await this.ensureRule('nat', 'POSTROUTING', ['-s', this.subnet, '!', '-o', this.bridge, '-j', 'MASQUERADE']);
    await this.ensureRule('filter', 'FORWARD', ['-i', this.bridge, '-j', 'ACCEPT']);
    await this.ensureRule('filter', 'FORWARD', ['-o', this.bridge, '-j', 'ACCEPT']);
  }

  private async ensureRule(table: string, chain: string, rule: string[]): Promise<void> {
    try {
      await runHostCommand('iptables', ['-w', '-t', table, '-C', chain, ...rule]);
    } catch {
      await runHostCommand('iptables', ['-w', '-t', table, '-I', chain, ...rule]);
    }
  }

  private names(containerId: string) {
    const short = containerId.slice(0, 10);
    return { host: `mv${short}`, peer: `mp${short}` };
  }

  macFor(containerId: string): string {
    const h = createHash('sha256').update(containerId).digest();
    return ['02', '42', ...[h[0], h[1], h[2], h[3]].map((b) => (b as number).toString(16).padStart(2, '0'))].join(':');
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
      gateway: this.ipam.gateway,
    };
  }

  /** The veth dies with the namespace; this removes a host end left behind by a failed start. */
  async detach(containerId: string): Promise<void> {
    const host = this.names(containerId).host;
    if (!(await access(`/sys/class/net/${host}`).then(() => true, () => false))) return;
    await runHostCommand('ip', ['link', 'del', host]).catch(() => undefined);
  }
}
