/**
 * The routing mesh of one host as pure functions: the platform's record of services' ingress ports
 * and their tasks in, the host's kernel rules out (nftables `numgen` maps, or iptables `statistic`
 * for the fallback). Every ready host forwards a service's published port to the service's healthy
 * replicas wherever they run:
 * - a replica on this host: DNAT straight to its container address and port (the bridge's rules let
 *   DNATed flows in);
 * - a replica on another host: DNAT to that host's underlay address and the task's backend port (a
 *   host-mode port the task publishes there, which that host's own published-port rules carry into
 *   the container). No overlay is needed, and the remote host sees an ordinary published-port flow.
 * Every mesh flow is masqueraded on its way out (marked in conntrack at DNAT): the reply of a
 * replica on another host must come back through this host to be un-NATed, so the replica sees the
 * forwarding host's address, never the client's (as with Swarm's ingress network).
 * No user string reaches a rule: only addresses, ports and protocols, checked again here.
 */

export type MeshProtocol = 'tcp' | 'udp';

/** One task of a service, as the platform's record has it. */
export interface MeshTask {
  hostId: string | null;
  state: string;
  /** Null: no health reported. A task whose spec has a health check counts only once `healthy`. */
  health: 'starting' | 'healthy' | 'unhealthy' | null;
  hasHealthcheck: boolean;
  /** The container's address on its host's bridge. */
  ipAddress: string | null;
  /** The task's backend ports on its host: `${containerPort}/${protocol}` → host port. */
  backendPorts: Readonly<Record<string, number>>;
}

/** A service's published ingress port and the container port it reaches. */
export interface MeshServicePort {
  publishedPort: number;
  targetPort: number;
  protocol: MeshProtocol;
}

export interface MeshService {
  ports: readonly MeshServicePort[];
  tasks: readonly MeshTask[];
}

export interface MeshBackend {
  address: string;
  port: number;
}

/** One published port of the mesh and where it balances to (empty: nothing healthy, the port refuses). */
export interface MeshRule {
  publishedPort: number;
  protocol: MeshProtocol;
  backends: MeshBackend[];
}

/** A task that takes traffic: running, and healthy when it has a health check. */
export function taskServes(task: MeshTask): boolean {
  if (task.state !== 'running' || !task.hostId) return false;
  return task.hasHealthcheck ? task.health === 'healthy' : task.health !== 'unhealthy';
}

/**
 * The mesh rules of host `hostId`: per published port, the healthy replicas in a stable order (so an
 * unchanged record gives an unchanged rule set). A remote task whose host has no underlay address, or
 * that has no backend port yet, is left out: it cannot be reached from here.
 */
export function planMesh(hostId: string, services: readonly MeshService[], underlay: ReadonlyMap<string, string>): MeshRule[] {
  const rules: MeshRule[] = [];
  for (const service of services) {
    for (const port of service.ports) {
      const backends: MeshBackend[] = [];
      for (const task of service.tasks.filter(taskServes)) {
        if (task.hostId === hostId) {
          if (task.ipAddress) backends.push({ address: task.ipAddress, port: port.targetPort });
          continue;
        }
        const remote = task.hostId ? underlay.get(task.hostId) : undefined;
        const backendPort = task.backendPorts[`${port.targetPort}/${port.protocol}`];
        if (remote && backendPort) backends.push({ address: remote, port: backendPort });
      }
      backends.sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
      rules.push({ publishedPort: port.publishedPort, protocol: port.protocol, backends });
    }
  }
  return rules.sort((a, b) => a.publishedPort - b.publishedPort || a.protocol.localeCompare(b.protocol));
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/** Refuses anything that is not exactly a port, an address or a protocol, and a port published twice. */
export function checkMesh(rules: readonly MeshRule[]): void {
  const seen = new Set<string>();
  for (const rule of rules) {
    if (!isPort(rule.publishedPort) || (rule.protocol !== 'tcp' && rule.protocol !== 'udp')) throw new Error(`mesh rules: refusing port ${JSON.stringify(rule.publishedPort)}/${JSON.stringify(rule.protocol)}`);
    const key = `${rule.publishedPort}/${rule.protocol}`;
    if (seen.has(key)) throw new Error(`mesh rules: port ${key} is published by two services`);
    seen.add(key);
    for (const b of rule.backends) if (!IPV4.test(b.address) || !isPort(b.port)) throw new Error(`mesh rules: refusing backend ${JSON.stringify(b.address)}:${JSON.stringify(b.port)}`);
  }
}

export const MESH_TABLE = 'muelle_mesh';
export const MESH_CHAIN = 'MUELLE-MESH';
/** iptables (raw table) chain of the loopback guard; nftables has it as chain `guard` of MESH_TABLE. */
export const MESH_GUARD_CHAIN = `${MESH_CHAIN}-GUARD`;
const LOOPBACK_NET = '127.0.0.0/8';
/** Conntrack mark of a mesh flow (ASCII "MESH"): masqueraded in postrouting. */
export const MESH_MARK = '0x4d455348';

/**
 * One `nft -f` script that replaces the mesh table. A port with replicas DNATs to one chosen by
 * `numgen random` over a map (each new flow independently; a flow stays on its replica, conntrack);
 * a port with none is left to the host, where nothing listens, so the client gets a refusal at once.
 * Its dstnat priority is ahead of the bridges' tables, so a mesh port wins over a stale container rule.
 * The guard: a host client of 127.0.0.1:PORT sent to another host's replica needs route_localnet on
 * the device toward it (RoutingMesh sets it), which would also let a neighbour on that device reach
 * the host's loopback-only services; anything to 127.0.0.0/8 arriving on a device other than lo is
 * dropped before conntrack (the replies of our own flows still carry the host's address there).
 */
export function meshNftRules(rules: readonly MeshRule[]): string {
  checkMesh(rules);
  const dnat = rules
    .filter((r) => r.backends.length)
    .map((r) => {
      const map = r.backends.map((b, i) => `${i} : ${b.address} . ${b.port}`).join(', ');
      return `    fib daddr type local ${r.protocol} dport ${r.publishedPort} ct mark set ${MESH_MARK} dnat ip to numgen random mod ${r.backends.length} map { ${map} }`;
    });
  return [
    `table ip ${MESH_TABLE} {}`,
    `delete table ip ${MESH_TABLE}`,
    `table ip ${MESH_TABLE} {`,
    `  chain guard {`,
    `    type filter hook prerouting priority raw; policy accept;`,
    `    iifname != "lo" ip daddr ${LOOPBACK_NET} drop`,
    `  }`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat - 5; policy accept;`,
    ...dnat,
    `  }`,
    `  chain output {`,
    `    type nat hook output priority -105; policy accept;`,
    ...dnat,
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat - 5; policy accept;`,
    `    ct mark ${MESH_MARK} masquerade`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** `nft -f` script that removes the mesh table (nothing else). */
export function meshNftTeardown(): string {
  return [`table ip ${MESH_TABLE} {}`, `delete table ip ${MESH_TABLE}`, ''].join('\n');
}

/**
 * The iptables fallback (`iptables-restore --noflush`, nat table): for N replicas, the i-th rule
 * takes a new flow with probability 1/(N−i) and the last takes the rest, which spreads flows evenly.
 * `-PRE` is jumped to from PREROUTING and OUTPUT, `-POST` from POSTROUTING (see meshIptablesJumps);
 * the loopback guard (see meshNftRules) is a chain of the raw table, jumped to from its PREROUTING.
 */
export function meshIptablesRules(rules: readonly MeshRule[]): string {
  checkMesh(rules);
  const pre = `${MESH_CHAIN}-PRE`;
  const post = `${MESH_CHAIN}-POST`;
  const lines = [`*nat`, `:${pre} - [0:0]`, `:${post} - [0:0]`, `-F ${pre}`, `-F ${post}`];
  for (const r of rules) {
    const n = r.backends.length;
    const match = `-m addrtype --dst-type LOCAL -p ${r.protocol} -m ${r.protocol} --dport ${r.publishedPort}`;
    r.backends.forEach((b, i) => {
      const left = n - i;
      const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(8)}` : '';
      lines.push(`-A ${pre} ${match}${pick} -j CONNMARK --set-mark ${MESH_MARK}`);
      lines.push(`-A ${pre} ${match} -m connmark --mark ${MESH_MARK} -j DNAT --to-destination ${b.address}:${b.port}`);
    });
  }
  lines.push(`-A ${post} -m connmark --mark ${MESH_MARK} -j MASQUERADE`, `COMMIT`);
  lines.push(`*raw`, `:${MESH_GUARD_CHAIN} - [0:0]`, `-F ${MESH_GUARD_CHAIN}`, `-A ${MESH_GUARD_CHAIN} ! -i lo -d ${LOOPBACK_NET} -j DROP`, `COMMIT`, '');
  return lines.join('\n');
}

/** Jumps from the built-in chains into the mesh's: [table, built-in chain, our chain]. */
export function meshIptablesJumps(): Array<[string, string, string]> {
  return [
    ['nat', 'PREROUTING', `${MESH_CHAIN}-PRE`],
    ['nat', 'OUTPUT', `${MESH_CHAIN}-PRE`],
    ['nat', 'POSTROUTING', `${MESH_CHAIN}-POST`],
    ['raw', 'PREROUTING', MESH_GUARD_CHAIN],
  ];
}
