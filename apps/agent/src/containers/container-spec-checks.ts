import { readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { ContainerSpec, InvalidArgumentError, ResolvedPort } from '@muelle/contracts';
import type { CgroupLimits } from '@muelle/isolation';
import { mergeEnv as mergeImageEnv, withDefaultPath } from '@muelle/images';
import { NO_TEAM_GROUP } from '../network/bridge-network';
import { probePort } from '../network/published-ports';
import { checkBindSource } from './bind-source';
import { ContainerRecordOnDisk } from './container-record';
import { isolationOptionsOf } from './isolation-options';
import { unlessAbsent } from '@muelle/service-kit';

/** What a container spec must satisfy before anything is made for it, and the values derived from it. */

export const SIGNALS = osConstants.signals as Record<string, number>;
export const SIGNAL_NAMES = new Map(Object.entries(SIGNALS).map(([name, n]) => [n, name as NodeJS.Signals]));

export function signalNumber(signal: string): number {
  const name = /^\d+$/.test(signal) ? undefined : signal.startsWith('SIG') ? signal : `SIG${signal}`;
  const n = name ? SIGNALS[name] : Number(signal);
  if (!n || n < 1 || n > 64) throw new InvalidArgumentError(`unknown signal ${signal}`);
  return n;
}

/** The checks of a create that need no image: network vs ports, capabilities and ulimits. */
export function checkSpec(spec: ContainerSpec): void {
  if (spec.network === 'none' && spec.ports.length) throw new InvalidArgumentError('published ports need network bridge (or host, where they are ignored)');
  isolationOptionsOf(spec); // refuses bad capability names or ulimits now, not at start
  for (const endpoint of spec.networks ?? []) {
    if (spec.network !== 'bridge') throw new InvalidArgumentError(`network ${endpoint.name}: a user-defined network needs network mode bridge, not ${spec.network}`);
    if (!endpoint.subnet || !endpoint.gateway || !endpoint.address) throw new InvalidArgumentError(`network ${endpoint.name}: subnet, gateway and the container's address must be recorded by metadata first`);
  }
}

export async function checkVolumes(spec: ContainerSpec, teamId: string | null): Promise<void> {
  for (const volume of spec.volumes) {
    if (volume.target === '/' || volume.target.split('/').includes('..')) throw new InvalidArgumentError(`volume target ${volume.target} must be a path below / without ..`);
    if (volume.kind === 'bind') await checkBindSource(volume.source, teamId);
    else if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(volume.source)) {
      throw new InvalidArgumentError(`invalid volume name ${volume.source}`);
    }
  }
}

/** Resolves hostPort 0 and refuses ports taken by other containers (`others`) or other programs. */
export async function checkPorts(spec: ContainerSpec, others: ContainerRecordOnDisk[]): Promise<ResolvedPort[]> {
  const taken = new Set(others.filter((r) => r.state !== 'exited' && r.state !== 'dead').flatMap((r) => r.ports.map((p) => `${p.hostPort}/${p.protocol}`)));
  const resolved: ResolvedPort[] = [];
  for (const port of spec.ports) {
    if (port.hostPort && taken.has(`${port.hostPort}/${port.protocol}`)) throw new InvalidArgumentError(`port ${port.hostPort}/${port.protocol} is already published by another container`);
    const hostPort = await probePort(port.hostIp, port.hostPort, port.protocol).catch((error: Error) => {
      throw new InvalidArgumentError(error.message);
    });
    taken.add(`${hostPort}/${port.protocol}`);
    resolved.push({ hostIp: port.hostIp, hostPort, containerPort: port.containerPort, protocol: port.protocol });
  }
  return resolved;
}

export function mergeEnv(imageEnv: readonly string[], specEnv: readonly string[]): string[] {
  return withDefaultPath(mergeImageEnv(imageEnv, specEnv));
}

export function limitsOf(spec: ContainerSpec): CgroupLimits {
  const r = spec.resources;
  const limits: CgroupLimits = {};
  if (r.memoryBytes) limits.memoryBytes = r.memoryBytes;
  if (r.cpuShares) limits.cpuShares = r.cpuShares;
  if (r.cpus) limits.cpuQuota = { quotaUs: Math.round(r.cpus * 100_000), periodUs: 100_000 };
  if (r.pidsLimit) limits.pidsMax = r.pidsLimit;
  return limits;
}

export function hostsFile(hostname: string, ip: string | null): string {
  return ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ip ? `${ip}\t${hostname}` : `127.0.1.1\t${hostname}`, ''].join('\n');
}

/** Containers of one team share a network group; those without a team share another. */
export function networkGroup(record: ContainerRecordOnDisk): string {
  return record.teamId ? `team:${record.teamId}` : NO_TEAM_GROUP;
}

/** A user network's container asks its network's resolver on the gateway (network/dns); others the host's resolvers. */
export async function resolvConf(spec: Pick<ContainerSpec, 'network' | 'networks'>): Promise<string> {
  const network = spec.network;
  const host = await unlessAbsent(readFile('/etc/resolv.conf', 'utf8'), '');
  const gateway = network === 'bridge' ? spec.networks?.[0]?.gateway : undefined;
  if (gateway) return [...host.split('\n').filter((l) => /^(search|domain|options)\s/.test(l.trim())), `nameserver ${gateway}`, ''].join('\n');
  // Loopback resolvers of the host are unreachable from a container's own network namespace.
  const lines = host.split('\n').filter((l) => l.trim() && !(network !== 'host' && /^nameserver\s+(127\.|::1)/.test(l.trim())));
  if (!lines.some((l) => l.startsWith('nameserver'))) lines.push('nameserver 8.8.8.8');
  return lines.join('\n') + '\n';
}
