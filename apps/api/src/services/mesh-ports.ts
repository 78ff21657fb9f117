import { randomInt } from 'node:crypto';
import { ConflictError, InvalidArgumentError, MESH_BACKEND_PORTS, PortBinding, ServiceRecord, ServiceSpec } from '@muelle/contracts';
import type { HostUsage } from '@muelle/contracts';

/** A service's ingress ports: published by the routing mesh on every host. */
export const ingressPorts = (spec: Pick<ServiceSpec, 'ports'>) => spec.ports.filter((p) => p.mode === 'ingress');

const key = (p: { hostPort: number; protocol: string }) => `${p.hostPort}/${p.protocol}`;

/**
 * The ports a task of `spec` publishes on its host: host-mode ports as given; each ingress port on
 * its own backend port (`backends`: `containerPort/protocol` → host port), where the other hosts'
 * mesh rules send their share of the traffic.
 */
export function taskPorts(spec: Pick<ServiceSpec, 'ports'>, backends: Readonly<Record<string, number>> | null): PortBinding[] {
  return spec.ports.flatMap(({ mode, ...port }) => {
    if (mode === 'host') return [port];
    const backend = backends?.[`${port.containerPort}/${port.protocol}`];
    return backend ? [{ hostIp: '0.0.0.0', hostPort: backend, containerPort: port.containerPort, protocol: port.protocol }] : [];
  });
}

/** Fresh backend ports for one task (random in MESH_BACKEND_PORTS; a port taken on a host makes the scheduler pick another host). */
export function pickBackends(spec: Pick<ServiceSpec, 'ports'>): Record<string, number> {
  const backends: Record<string, number> = {};
  for (const p of ingressPorts(spec)) backends[`${p.containerPort}/${p.protocol}`] = randomInt(MESH_BACKEND_PORTS.min, MESH_BACKEND_PORTS.max + 1);
  return backends;
}

/** The task label that carries its backend ports (SERVICE_BACKENDS_LABEL). */
export const backendsLabel = (backends: Readonly<Record<string, number>>) =>
  Object.entries(backends)
    .map(([port, host]) => `${port}=${host}`)
    .join(',');

/**
 * An ingress port is taken on every host: refused when a live container publishes it on any host,
 * when it lies in the backend range, or is bound to one address. Another service holding it is
 * metadata's to refuse, atomically with the write (claimServicePorts), so two concurrent creates
 * cannot both take it.
 */
export function checkIngressPorts(spec: Pick<ServiceSpec, 'ports'>, self: string | null, usages: readonly HostUsage[]): void {
  const mine = ingressPorts(spec);
  for (const p of mine) {
    if (p.hostPort >= MESH_BACKEND_PORTS.min && p.hostPort <= MESH_BACKEND_PORTS.max) {
      throw new InvalidArgumentError(`ports: ${key(p)} is in the routing mesh's backend range ${MESH_BACKEND_PORTS.min}-${MESH_BACKEND_PORTS.max}; publish another port`);
    }
    if (p.hostIp !== '0.0.0.0') throw new InvalidArgumentError(`ports: ingress port ${key(p)} is published on every address of every host; bind it to ${p.hostIp} with mode host`);
    if (p.hostPort === 0) throw new InvalidArgumentError(`ports: an ingress port needs a published port (got 0 for ${p.containerPort}/${p.protocol})`);
  }
  const wanted = new Set(mine.map(key));
  for (const usage of usages) {
    const clash = usage.usedPorts.find((used) => wanted.has(used.replace(/^.*:/, '')));
    if (clash && !usage.services[self ?? '']) throw new ConflictError(`port ${clash.replace(/^.*:/, '')} is already published on host ${usage.hostId}; an ingress port is taken on every host`);
  }
}

/** A container may not publish a port the routing mesh holds on every host. */
export function checkAgainstMesh(ports: readonly PortBinding[], services: readonly ServiceRecord[], self: string | null): void {
  for (const port of ports) {
    if (!port.hostPort) continue;
    const owner = services.find((s) => s.id !== self && ingressPorts(s.spec).some((p) => key(p) === key(port)));
    if (owner) throw new ConflictError(`port ${key(port)} is the routing mesh port of service ${owner.name} (taken on every host)`);
  }
}
