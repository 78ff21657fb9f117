import { spawnSync } from 'node:child_process';

/**
 * The routing mesh's test bed in network namespaces, shared by mesh.int-spec.ts and
 * tools/bench/network/mesh.mjs (which loads the build of this file). Host A runs replica a on its
 * bridge, host B replica b on its own; a client sits on A's LAN; A and B share an underlay link.
 * Four /24s from `10.89.<base>.0`: A's bridge, A's LAN, the underlay, B's bridge. Needs root.
 */
export interface MeshTopology {
  /** Namespaces: the two hosts, their containers, the client. */
  a: string;
  b: string;
  ctrA: string;
  ctrB: string;
  client: string;
  replicaA: string;
  replicaB: string;
  aLan: string;
  clientIp: string;
  aUnderlay: string;
  bUnderlay: string;
  /** Interfaces on the hosts: bridges, the bridges' container ports, A's side of the underlay and LAN links. */
  bridgeA: string;
  bridgeB: string;
  vethA: string;
  vethB: string;
  underlayA: string;
  lanA: string;
  subnetA: string;
  subnetB: string;
}

/** Names and addresses: namespaces `<prefix>-a`…, interfaces `<prefix>br0`… (prefix ≤ 6 characters). */
export function meshTopology(prefix: string, base: number): MeshTopology {
  if (!/^[a-z]{1,6}$/.test(prefix) || !Number.isInteger(base) || base < 0 || base > 252) throw new Error(`mesh topology: refusing prefix ${prefix} / base ${base}`);
  const net = (i: number) => `10.89.${base + i}`;
  return {
    a: `${prefix}-a`,
    b: `${prefix}-b`,
    ctrA: `${prefix}-ctra`,
    ctrB: `${prefix}-ctrb`,
    client: `${prefix}-client`,
    replicaA: `${net(0)}.2`,
    aLan: `${net(1)}.1`,
    clientIp: `${net(1)}.2`,
    aUnderlay: `${net(2)}.1`,
    bUnderlay: `${net(2)}.2`,
    replicaB: `${net(3)}.2`,
    bridgeA: `${prefix}br0`,
    bridgeB: `${prefix}br1`,
    vethA: `${prefix}va`,
    vethB: `${prefix}vb`,
    underlayA: `${prefix}und`,
    lanA: `${prefix}lan`,
    subnetA: `${net(0)}.0/24`,
    subnetB: `${net(3)}.0/24`,
  };
}

/** Runs a command; its stdout, or an error with its stderr. */
export function sh(args: string[], input?: string): string {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8', input });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** The same inside network namespace `ns`. */
export const inNs = (ns: string, args: string[], input?: string): string => sh(['ip', 'netns', 'exec', ns, ...args], input);

const namespaces = (t: MeshTopology) => [t.a, t.b, t.ctrA, t.ctrB, t.client];

/** Removes the namespaces (and with them every interface and rule in them); absent ones are fine. */
export function destroyMeshTopology(t: MeshTopology): void {
  for (const ns of namespaces(t)) spawnSync('ip', ['netns', 'del', ns]); // absent: nothing to remove
}

/** Makes the namespaces and links (a previous run's are removed first); no rules, no servers. */
export function createMeshTopology(t: MeshTopology): void {
  destroyMeshTopology(t);
  for (const ns of namespaces(t)) {
    sh(['ip', 'netns', 'add', ns]);
    inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
  // Bridged frames stay out of iptables (br_netfilter is host-wide; absent module: nothing to turn off).
  for (const host of [t.a, t.b]) inNs(host, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || true']);
  bridgeWithContainer(t.a, t.bridgeA, t.vethA, t.ctrA, t.replicaA);
  bridgeWithContainer(t.b, t.bridgeB, t.vethB, t.ctrB, t.replicaB);
  link(t.a, t.lanA, t.aLan, t.client, t.clientIp);
  link(t.a, t.underlayA, t.aUnderlay, t.b, t.bUnderlay);
}

/** A bridge on `host` with one container namespace at `ip` (gateway .1), route_localnet as BridgeNetwork sets it. */
function bridgeWithContainer(host: string, bridge: string, veth: string, container: string, ip: string): void {
  const gateway = ip.replace(/\.\d+$/, '.1');
  inNs(host, ['ip', 'link', 'add', bridge, 'type', 'bridge']);
  inNs(host, ['ip', 'addr', 'add', `${gateway}/24`, 'dev', bridge]);
  inNs(host, ['ip', 'link', 'set', bridge, 'up']);
  inNs(host, ['sh', '-c', `echo 1 > /proc/sys/net/ipv4/conf/${bridge}/route_localnet`]);
  inNs(host, ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', container]);
  inNs(host, ['ip', 'link', 'set', veth, 'master', bridge]);
  inNs(host, ['ip', 'link', 'set', veth, 'up']);
  inNs(container, ['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  inNs(container, ['ip', 'link', 'set', 'eth0', 'up']);
  inNs(container, ['ip', 'route', 'add', 'default', 'via', gateway]);
}

/** A point-to-point link between two namespaces (`<ifname>` on the left, `<ifname>p` on the right). */
function link(left: string, ifname: string, leftIp: string, right: string, rightIp: string): void {
  inNs(left, ['ip', 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}p`, 'netns', right]);
  inNs(left, ['ip', 'addr', 'add', `${leftIp}/24`, 'dev', ifname]);
  inNs(left, ['ip', 'link', 'set', ifname, 'up']);
  inNs(right, ['ip', 'addr', 'add', `${rightIp}/24`, 'dev', `${ifname}p`]);
  inNs(right, ['ip', 'link', 'set', `${ifname}p`, 'up']);
}
