import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { runHostCommand } from '@muelle/isolation';
import { Ipam, parseSubnet } from './ipam';

export interface ContainerAttachment {
  ipAddress: string;
  gateway: string;
  macAddress: string;
  prefix: number;
}

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

  /** Wires the network namespace of the container init `pid` into the bridge. */
  async attach(containerId: string, pid: number, ipAddress: string): Promise<ContainerAttachment> {
    const { host, peer } = this.names(containerId);
    const macAddress = this.macFor(containerId);
    await runHostCommand('ip', ['link', 'del', host]).catch(() => undefined); // a leftover of a crash
    await runHostCommand('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', String(pid)]);
    await runHostCommand('ip', ['link', 'set', host, 'master', this.bridge, 'up']);
    await runHostCommand('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-batch', '-'], {
      input: [
        `link set ${peer} name eth0`,
        `link set eth0 address ${macAddress}`,
        `addr add ${ipAddress}/${this.prefix} dev eth0`,
        'link set eth0 up',
        `route add default via ${this.ipam.gateway}`,
      ].join('\n') + '\n',
    });
    return { ipAddress, gateway: this.ipam.gateway, macAddress, prefix: this.prefix };
  }

  /** The veth dies with the namespace; this removes a host end left behind by a failed start. */
  async detach(containerId: string): Promise<void> {
    await runHostCommand('ip', ['link', 'del', this.names(containerId).host]).catch(() => undefined);
  }
}
