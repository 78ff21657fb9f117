import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each service's published ports as rows, so a port claim is decided in the database (see
 * claimServicePorts) and not read-then-written by the api: an ingress port is unique per protocol.
 */
export class ServicePorts1765091000001 implements MigrationInterface {
  name = 'ServicePorts1765091000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE service_ports (
      service_id uuid NOT NULL REFERENCES services(id) ON DELETE CASCADE,
      port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
      protocol text NOT NULL,
      mode text NOT NULL CHECK (mode IN ('ingress', 'host')),
      PRIMARY KEY (service_id, port, protocol)
    )`);
    await q.query(`CREATE UNIQUE INDEX service_ports_ingress ON service_ports (port, protocol) WHERE mode = 'ingress'`);
    await q.query(`CREATE INDEX service_ports_port ON service_ports (port, protocol)`);
    // Existing services' ports; the api refused clashes before, so none is expected (the first one keeps it).
    await q.query(
      `INSERT INTO service_ports (service_id, port, protocol, mode)
       SELECT DISTINCT ON (s.id, (p->>'hostPort')::int, p->>'protocol') s.id, (p->>'hostPort')::int, p->>'protocol', coalesce(p->>'mode', 'ingress')
         FROM services s, jsonb_array_elements(s.spec->'ports') p
        WHERE (p->>'hostPort')::int > 0
        ORDER BY s.id, (p->>'hostPort')::int, p->>'protocol', coalesce(p->>'mode', 'ingress') = 'ingress' DESC
       ON CONFLICT DO NOTHING`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE service_ports`);
  }
}
