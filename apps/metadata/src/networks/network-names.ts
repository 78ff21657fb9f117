import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { HealthStatus, NetworkNameEntry, SERVICE_ID_LABEL } from '@muelle/contracts';
import { DataSource } from 'typeorm';

interface Row {
  id: string;
  name: string;
  state: string;
  health_status: HealthStatus | null;
  address: string | null;
  aliases: unknown;
  service: string | null;
  networks: unknown;
}

/**
 * The names of a network's containers, for the network's resolvers on every host (issue 14): the
 * container's name, its aliases on that network, its address there, and the name of the service
 * it is a replica of (through `muelle.service.id`). One query over the recorded specs.
 */
@Injectable()
export class NetworkNames {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async of(networkId: string): Promise<NetworkNameEntry[]> {
    const rows: Row[] = await this.db.query(
      `SELECT c.id, c.name, c.state, c.health_status, n->>'address' AS address, n->'aliases' AS aliases, s.name AS service,
              (SELECT jsonb_agg(x->>'id') FROM jsonb_array_elements(c.spec->'networks') x) AS networks
         FROM containers c
         CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.spec->'networks') = 'array' THEN c.spec->'networks' ELSE '[]'::jsonb END) n
         LEFT JOIN services s ON s.id::text = c.labels->>$2
        WHERE n->>'id' = $1`,
      [networkId, SERVICE_ID_LABEL],
    );
    return rows
      .filter((r): r is Row & { address: string } => typeof r.address === 'string')
      .map((r) => ({
        containerId: r.id,
        name: r.name.replace(/^\//, ''),
        aliases: Array.isArray(r.aliases) ? r.aliases.filter((a): a is string => typeof a === 'string') : [],
        address: r.address,
        service: r.service,
        running: r.state === 'running',
        health: r.health_status,
        networks: Array.isArray(r.networks) ? r.networks.filter((id): id is string => typeof id === 'string') : [],
      }));
  }
}
