import type { EntityManager } from 'typeorm';
import { MeshRecordReply, SERVICE_BACKENDS_LABEL, SERVICE_ID_LABEL, ServiceSpec } from '@muelle/contracts';

/** A drain mark older than this is void: the removal it announced did not happen (the reconciler retries it). */
export const DRAIN_MARK_TTL_MS = 60_000;

/** `80/tcp=31234,53/udp=30001` → { '80/tcp': 31234, … }; anything malformed is left out (it reaches nothing). */
export function parseBackends(label: string | undefined): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const part of (label ?? '').split(',')) {
    const match = /^(\d{1,5}\/(?:tcp|udp))=(\d{1,5})$/.exec(part.trim());
    if (match && Number(match[2]) >= 1 && Number(match[2]) <= 65535) ports[match[1]!] = Number(match[2]);
  }
  return ports;
}

/**
 * The routing mesh's view of the platform: every service with ingress ports, its published ports,
 * and its running tasks on ready hosts that are not draining (a task on a host that is down or
 * draining, or a task leaving (drainTasks), takes no new flow);
 * and the underlay address of every host that has one.
 */
export async function meshRecordOf(manager: EntityManager): Promise<MeshRecordReply> {
  const hosts: Array<{ id: string; underlay_address: string }> = await manager.query(`SELECT id, underlay_address FROM hosts WHERE underlay_address IS NOT NULL ORDER BY id`);
  const services: Array<{ id: string; spec: ServiceSpec }> = await manager.query(`SELECT id, spec FROM services ORDER BY id`);
  const meshed = services
    .map((s) => ({ id: s.id, ports: (s.spec.ports ?? []).filter((p) => (p.mode ?? 'ingress') === 'ingress') }))
    .filter((s) => s.ports.length);
  if (!meshed.length) return { hosts: hosts.map((h) => ({ id: h.id, underlayAddress: h.underlay_address })), services: [] };
  const tasks: Array<{ id: string; host_id: string; state: string; health_status: 'starting' | 'healthy' | 'unhealthy' | null; checked: boolean; service_id: string; backends: string | null }> = await manager.query(
    `SELECT c.id, c.host_id, c.state, c.health_status, (c.spec->'healthcheck' IS NOT NULL AND jsonb_typeof(c.spec->'healthcheck') = 'object') AS checked,
            c.labels ->> '${SERVICE_ID_LABEL}' AS service_id, c.labels ->> '${SERVICE_BACKENDS_LABEL}' AS backends
       FROM containers c JOIN hosts h ON h.id = c.host_id
      WHERE c.state = 'running' AND h.state = 'ready' AND c.labels ->> '${SERVICE_ID_LABEL}' = ANY($1)
        AND (c.draining_since IS NULL OR c.draining_since < now() - $2 * interval '1 millisecond')
      ORDER BY c.id`,
    [meshed.map((s) => s.id), DRAIN_MARK_TTL_MS],
  );
  return {
    hosts: hosts.map((h) => ({ id: h.id, underlayAddress: h.underlay_address })),
    services: meshed.map((s) => ({
      id: s.id,
      ports: s.ports.map((p) => ({ publishedPort: p.hostPort, targetPort: p.containerPort, protocol: p.protocol })),
      tasks: tasks
        .filter((t) => t.service_id === s.id)
        .map((t) => ({
          containerId: t.id,
          hostId: t.host_id,
          state: t.state,
          health: t.health_status,
          // A check from the image shows as a reported status; until then the spec's own check is what is known.
          hasHealthcheck: t.checked || t.health_status !== null,
          backendPorts: parseBackends(t.backends ?? undefined),
        })),
    })),
  };
}
