import { ContainerSpec, HostRecord, HostUsage, formatBytes } from '@muelle/contracts';

export interface PlacementCandidate {
  host: HostRecord;
  usage: HostUsage;
}

/** Why a host was passed over, as a bounded set (a metric label); `reason` says it in words. */
export type RejectionKind = 'pinned' | 'down' | 'cordoned' | 'not_ready' | 'disk_low' | 'constraint' | 'port' | 'memory' | 'cpu';

export interface Rejection {
  hostId: string;
  kind: RejectionKind;
  reason: string;
}

export type PlacementResult = { hostId: string; score: number } | { hostId: null; rejections: Rejection[] };

const emptyUsage = (hostId: string): HostUsage => ({ hostId, containers: 0, reservedMemoryBytes: 0, reservedCpus: 0, usedPorts: [], services: {} });

/**
 * Picks a host for one container. Filters first (ready, not cordoned, able to make containers, enough free disk, pinned host, label
 * constraints, free published ports, enough unreserved CPU and memory), then scores the rest:
 * fewest replicas of the same service first (spread), then least loaded after placement, then
 * host id — so the same inputs always give the same host.
 */
export function placeContainer(spec: ContainerSpec, hosts: HostRecord[], usages: HostUsage[]): PlacementResult {
  const usageByHost = new Map(usages.map((u) => [u.hostId, u]));
  const rejections: Rejection[] = [];
  const fits: Array<{ hostId: string; replicas: number; load: number }> = [];

  for (const host of hosts) {
    const usage = usageByHost.get(host.id) ?? emptyUsage(host.id);
    const rejection = rejectionOf(spec, host, usage);
    if (rejection) {
      rejections.push({ hostId: host.id, ...rejection });
      continue;
    }
    const memory = spec.resources.memoryBytes ?? 0;
    const cpus = spec.resources.cpus ?? 0;
    const memoryLoad = host.capacity.memoryBytes ? (usage.reservedMemoryBytes + memory) / host.capacity.memoryBytes : 1;
    const cpuLoad = host.capacity.cpus ? (usage.reservedCpus + cpus) / host.capacity.cpus : 1;
    // Containers without reservations still weigh something, so they spread too.
    const countLoad = usage.containers / (100 * Math.max(1, host.capacity.cpus));
    const service = spec.labels['muelle.service'];
    fits.push({ hostId: host.id, replicas: service ? (usage.services[service] ?? 0) : 0, load: Math.max(memoryLoad, cpuLoad) + countLoad });
  }

  if (!fits.length) return { hostId: null, rejections };
  fits.sort((a, b) => a.replicas - b.replicas || a.load - b.load || (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
  return { hostId: fits[0].hostId, score: fits[0].load };
}

/**
 * `usages` after `spec` is placed on `hostId`: what metadata's usage snapshot would then read (the
 * same fields it sums over live containers), so several placements can be decided from one snapshot.
 */
export function withPlacement(usages: HostUsage[], hostId: string, spec: ContainerSpec): HostUsage[] {
  const before = usages.find((u) => u.hostId === hostId) ?? emptyUsage(hostId);
  const service = spec.labels['muelle.service'];
  const after: HostUsage = {
    hostId,
    containers: before.containers + 1,
    reservedMemoryBytes: before.reservedMemoryBytes + (spec.resources.memoryBytes ?? 0),
    reservedCpus: before.reservedCpus + (spec.resources.cpus ?? 0),
    usedPorts: [...before.usedPorts, ...spec.ports.filter((p) => p.hostPort).map((p) => `${p.hostIp}:${p.hostPort}/${p.protocol}`)],
    services: service ? { ...before.services, [service]: (before.services[service] ?? 0) + 1 } : before.services,
  };
  return [...usages.filter((u) => u.hostId !== hostId), after];
}

function rejectionOf(spec: ContainerSpec, host: HostRecord, usage: HostUsage): Omit<Rejection, 'hostId'> | null {
  if (spec.placement.hostId && spec.placement.hostId !== host.id) return { kind: 'pinned', reason: `not the requested host ${spec.placement.hostId}` };
  if (host.state !== 'ready') return { kind: 'down', reason: 'host is down' };
  if (host.cordoned) return { kind: 'cordoned', reason: 'host is cordoned' };
  if (host.notReady) return { kind: 'not_ready', reason: `cannot make containers: ${host.notReady}` };
  if (host.capacity.diskLow) return { kind: 'disk_low', reason: `low disk (${formatBytes(host.capacity.diskFreeBytes ?? 0)} free)` };
  for (const [key, value] of Object.entries(spec.placement.constraints)) {
    if (host.labels[key] !== value) return { kind: 'constraint', reason: `label ${key}=${value} not on host` };
  }
  for (const port of spec.ports) {
    if (!port.hostPort) continue;
    const clash = usage.usedPorts.find((used) => portsClash(used, port.hostIp, port.hostPort, port.protocol));
    if (clash) return { kind: 'port', reason: `port ${port.hostPort}/${port.protocol} already published (${clash})` };
  }
  const memory = spec.resources.memoryBytes ?? 0;
  if (memory && usage.reservedMemoryBytes + memory > host.capacity.memoryBytes) return { kind: 'memory', reason: 'not enough unreserved memory' };
  const cpus = spec.resources.cpus ?? 0;
  if (cpus && usage.reservedCpus + cpus > host.capacity.cpus) return { kind: 'cpu', reason: 'not enough unreserved CPU' };
  return null;
}

/** `0.0.0.0` (any address) clashes with every address on the same port and protocol. */
function portsClash(used: string, hostIp: string, hostPort: number, protocol: string): boolean {
  const match = /^(.*):(\d+)\/(tcp|udp)$/.exec(used);
  if (!match) return false;
  const [, usedIp, usedPort, usedProtocol] = match;
  if (Number(usedPort) !== hostPort || usedProtocol !== protocol) return false;
  return usedIp === hostIp || usedIp === '0.0.0.0' || hostIp === '0.0.0.0';
}

export function explainNoPlacement(rejections: Rejection[]): string {
  if (!rejections.length) return 'no hosts are registered';
  return `no host can run this container: ${rejections.map((r) => `${r.hostId}: ${r.reason}`).join('; ')}`;
}

/** The one kind that turned most hosts away (`no_hosts` when none is registered): a refusal's metric label. */
export function mainRejection(rejections: Rejection[]): RejectionKind | 'no_hosts' {
  const counts = new Map<RejectionKind, number>();
  for (const r of rejections) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  let best: RejectionKind | 'no_hosts' = 'no_hosts';
  let most = 0;
  for (const [kind, count] of counts) if (count > most) [best, most] = [kind, count];
  return best;
}
