import { ConflictError, ServicePort } from '@muelle/contracts';
import type { EntityManager } from 'typeorm';

const UNIQUE_VIOLATION = '23505';

/**
 * Records `serviceId`'s published ports in `service_ports`, refusing one another service holds: an
 * ingress port is taken on every host, so it clashes with the same port/protocol of any other service
 * (either mode); two host-mode ports may share one (each task's host decides). Called in the
 * transaction that writes the spec, after a table lock that serialises every service's port claims
 * (readers are not blocked), so two concurrent creates or updates cannot both take a port: the second
 * waits for the first to commit and then sees its rows. The unique index on ingress (port, protocol)
 * holds even for a writer that skipped the lock.
 */
export async function claimServicePorts(manager: EntityManager, serviceId: string, ports: readonly ServicePort[]): Promise<void> {
  await manager.query(`LOCK TABLE service_ports IN SHARE ROW EXCLUSIVE MODE`);
  await manager.query(`DELETE FROM service_ports WHERE service_id = $1`, [serviceId]);
  const wanted = new Map<string, { port: number; protocol: string; mode: string }>();
  for (const p of ports) {
    if (!p.hostPort) continue;
    const key = `${p.hostPort}/${p.protocol}`;
    // One row per port of a service; ingress wins over host-mode for the same port.
    if (wanted.get(key)?.mode !== 'ingress') wanted.set(key, { port: p.hostPort, protocol: p.protocol, mode: p.mode });
  }
  for (const [key, p] of wanted) {
    const [clash]: Array<{ name: string; mode: string }> = await manager.query(
      `SELECT s.name, sp.mode FROM service_ports sp JOIN services s ON s.id = sp.service_id
        WHERE sp.port = $1 AND sp.protocol = $2 AND sp.service_id <> $3 AND (sp.mode = 'ingress' OR $4 = 'ingress') LIMIT 1`,
      [p.port, p.protocol, serviceId, p.mode],
    );
    if (clash) throw portTaken(key, clash.name, clash.mode);
    try {
      await manager.query(`INSERT INTO service_ports (service_id, port, protocol, mode) VALUES ($1, $2, $3, $4)`, [serviceId, p.port, p.protocol, p.mode]);
    } catch (error) {
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      throw portTaken(key, 'another service', 'ingress');
    }
  }
}

function portTaken(key: string, holder: string, mode: string): ConflictError {
  const name = holder === 'another service' ? holder : `service ${holder}`;
  return new ConflictError(`port ${key} is already published by ${name}${mode === 'ingress' ? ' on every host (routing mesh)' : ''}`, { port: key });
}
