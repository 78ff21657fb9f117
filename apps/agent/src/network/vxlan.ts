import { runHostCommand } from '@muelle/isolation';
import { diffEntries, OverlayChanges, OverlayEntries, parseFdb, parseNeighbours } from './overlay-plan';

/** Outer Ethernet (14) + IPv4 (20) + UDP (8) + VXLAN (8) headers: what a frame grows by on the underlay. */
export const VXLAN_OVERHEAD = 50;

/**
 * `ip -d -o link show dev X`, or undefined when there is no such device (`ip` fails). Asked of `ip`,
 * not read from /sys: /sys/class/net shows the namespace /sys was mounted in, which is not the
 * agent's own when it was started with `nsenter --net` (as the multi-host tests do).
 */
const linkDetails = (device: string) => runHostCommand('ip', ['-d', '-o', 'link', 'show', 'dev', device]).then((text) => text, () => undefined);

/**
 * The MTU of containers on overlay networks: the underlay device's (the one holding `underlay`)
 * less the VXLAN overhead, so a full-sized frame still fits in one underlay packet. Fails when the
 * address is not on this host: VXLAN datagrams would leave from another address than the one
 * other hosts accept.
 */
export async function overlayMtu(underlay: string): Promise<number> {
  const lines = (await runHostCommand('ip', ['-o', '-4', 'addr', 'show'])).split('\n');
  const device = lines.find((l) => l.includes(` inet ${underlay}/`))?.split(/\s+/)[1];
  if (!device) throw new Error(`underlay address ${underlay} (MUELLE_UNDERLAY_ADDRESS) is not an address of this host`);
  const mtu = Number(/ mtu (\d+) /.exec((await linkDetails(device)) ?? '')?.[1]);
  if (!mtu) throw new Error(`cannot read the MTU of ${device}, the underlay device`);
  return mtu - VXLAN_OVERHEAD;
}

/**
 * A network's kernel VXLAN device on this host (`mx<network id prefix>`), made with `ip link` as
 * the bridges are: the network's VNI, this host's underlay address as source, the configured UDP
 * port, `nolearning` (forwarding comes only from the platform's record) and `proxy` (ARP answered
 * locally from the neighbour entries), enslaved to the network's bridge.
 */
export class VxlanDevice {
  constructor(
    readonly name: string,
    private readonly vni: number,
    private readonly underlay: string,
    private readonly port: number,
    private readonly bridge: string,
    private readonly mtu: number,
  ) {}

  static nameFor(networkId: string): string {
    return `mx${networkId.slice(0, 10)}`;
  }

  /** Made, or remade when an existing one has another VNI, source or port (a previous run's settings). */
  async ensure(): Promise<void> {
    const details = await linkDetails(this.name);
    if (details) {
      const same = details.includes(`vxlan id ${this.vni} `) && details.includes(` local ${this.underlay} `) && details.includes(` dstport ${this.port} `) && details.includes(` master ${this.bridge} `);
      if (same) return;
      await runHostCommand('ip', ['link', 'del', this.name]);
    }
    await runHostCommand('ip', ['link', 'add', this.name, 'type', 'vxlan', 'id', String(this.vni), 'local', this.underlay, 'dstport', String(this.port), 'nolearning', 'proxy']);
    await runHostCommand('ip', ['link', 'set', this.name, 'mtu', String(this.mtu), 'master', this.bridge]);
    await runHostCommand('ip', ['link', 'set', this.bridge, 'mtu', String(this.mtu)]);
    await runHostCommand('ip', ['link', 'set', this.name, 'up']);
  }

  async current(): Promise<OverlayEntries> {
    const [fdb, neighbours] = await Promise.all([
      runHostCommand('bridge', ['fdb', 'show', 'dev', this.name]),
      runHostCommand('ip', ['-4', 'neigh', 'show', 'dev', this.name]),
    ]);
    return { fdb: parseFdb(fdb), neighbours: parseNeighbours(neighbours) };
  }

  /** Brings the kernel's entries to `desired`; returns what it changed. */
  async program(desired: OverlayEntries): Promise<OverlayChanges> {
    const changes = diffEntries(desired, await this.current());
    const dev = ['dev', this.name];
    for (const e of changes.fdbDelete) await runHostCommand('bridge', ['fdb', 'del', e.mac, ...dev, 'dst', e.remote, 'self']);
    for (const e of changes.fdbSet) await runHostCommand('bridge', ['fdb', 'replace', e.mac, ...dev, 'dst', e.remote, 'self', 'permanent']);
    for (const e of changes.neighbourDelete) await runHostCommand('ip', ['neigh', 'del', e.ip, ...dev]);
    for (const e of changes.neighbourSet) await runHostCommand('ip', ['neigh', 'replace', e.ip, 'lladdr', e.mac, ...dev, 'nud', 'permanent']);
    return changes;
  }
}
