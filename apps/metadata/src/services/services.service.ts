import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { BusClient } from '@muelle/bus';
import { ConflictError, drainTasks, NotFoundError, ParsedRequestOf, ServiceRecord, SERVICE_ID_LABEL, tasksDraining, updateService } from '@muelle/contracts';
import { Repository } from 'typeorm';
import { meshRecordOf } from './mesh-record';
import { claimServicePorts } from './service-ports';
import { ServiceEntity } from './service.entity';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Services' desired state. Every change is conditional on the version the caller read (see updateService). */
@Injectable()
export class ServicesService {
  constructor(
    @InjectRepository(ServiceEntity) private readonly services: Repository<ServiceEntity>,
    private readonly bus: BusClient,
  ) {}

  /** The record and its published ports in one transaction: a name or port another service holds is a CONFLICT. */
  async create(input: { name: string; teamId: string | null; ownerId: string; spec: ServiceRecord['spec'] }): Promise<ServiceRecord> {
    const now = new Date();
    const id = randomUUID();
    await this.services.manager.transaction(async (manager) => {
      const inserted = await manager
        .createQueryBuilder()
        .insert()
        .into(ServiceEntity)
        .values({ id, ...input, previousSpec: null, version: 1, updateState: 'completed', updateMessage: '', updateFailedTasks: [], restartHistory: [], createdAt: now, updatedAt: now })
        .orIgnore()
        .returning('id')
        .execute();
      if (!inserted.raw.length) throw new ConflictError(`a service named "${input.name}" already exists`, { name: input.name });
      await claimServicePorts(manager, id, input.spec.ports);
    });
    return this.byId(id);
  }

  async get(ref: string, teamId?: string | null): Promise<ServiceRecord> {
    // Two parameters: PostgreSQL types one parameter once (uuid for id, text for name).
    const query = this.services.createQueryBuilder('s').where(UUID.test(ref) ? '(s.id = :id OR s.name = :ref)' : 's.name = :ref', { ref, id: ref });
    if (teamId) query.andWhere('s.team_id = :teamId', { teamId });
    const rows = await query.limit(2).getMany();
    const exact = rows.find((r) => r.id === ref);
    if (exact) return toRecord(exact);
    if (rows.length > 1) throw new ConflictError(`"${ref}" names services of several teams; use the id`);
    if (!rows[0]) throw new NotFoundError(`no such service: ${ref}`);
    return toRecord(rows[0]);
  }

  /** The routing mesh's record (see meshRecordOf). */
  mesh() {
    return meshRecordOf(this.services.manager);
  }

  /**
   * Marks the service's running tasks among `ids` draining (the mesh record leaves them out), then
   * announces it: every agent's routing mesh reads a record that already has them out. A lost
   * announcement fails the request, so the caller retries rather than kill a task still in a mesh.
   */
  async drain(request: ParsedRequestOf<typeof drainTasks>): Promise<{ draining: string[] }> {
    const rows: Array<{ id: string }> = await this.services.query(
      // A CTE: TypeORM answers a bare UPDATE … RETURNING with [rows, count].
      `WITH marked AS (UPDATE containers SET draining_since = now() WHERE id = ANY($1) AND state = 'running' AND labels ->> '${SERVICE_ID_LABEL}' = $2 RETURNING id)
       SELECT id FROM marked`,
      [request.ids, request.serviceId],
    );
    const draining = rows.map((r) => r.id).sort();
    if (draining.length) await this.bus.emit(tasksDraining, { serviceId: request.serviceId, ids: draining, at: new Date().toISOString() });
    return { draining };
  }

  async list(teamId?: string | null): Promise<ServiceRecord[]> {
    const query = this.services.createQueryBuilder('s');
    if (teamId) query.where('s.team_id = :teamId', { teamId });
    return (await query.orderBy('s.name').getMany()).map(toRecord);
  }

  async update(request: ParsedRequestOf<typeof updateService>): Promise<ServiceRecord> {
    const values: Partial<ServiceEntity> = { updatedAt: new Date() };
    if (request.spec) values.spec = request.spec;
    if (request.previousSpec !== undefined) values.previousSpec = request.previousSpec;
    if (request.updateState) values.updateState = request.updateState;
    if (request.updateMessage !== undefined) values.updateMessage = request.updateMessage;
    // A new spec is a new update: its failures count from none.
    if (request.updateFailedTasks) values.updateFailedTasks = request.updateFailedTasks;
    else if (request.spec && request.bumpVersion) values.updateFailedTasks = [];
    // Likewise the restart policy's count: a new spec version's tasks start with none against max_attempts.
    if (request.restartHistory) values.restartHistory = request.restartHistory;
    else if (request.spec && request.bumpVersion) values.restartHistory = [];
    await this.services.manager.transaction(async (manager) => {
      const query = manager
        .createQueryBuilder()
        .update(ServiceEntity)
        .set({ ...values, ...(request.spec && request.bumpVersion && { version: () => 'version + 1' }) })
        .where('id = :id AND version = :version', { id: request.id, version: request.expectedVersion });
      if (request.expectedUpdateState) query.andWhere('update_state = :state', { state: request.expectedUpdateState });
      if (request.expectedUpdatedAt) query.andWhere('updated_at = :at', { at: request.expectedUpdatedAt });
      const result = await query.execute();
      if (!result.affected) {
        const current = await manager.findOneBy(ServiceEntity, { id: request.id });
        if (!current) throw new NotFoundError(`no such service: ${request.id}`);
        throw new ConflictError(`service ${current.name} changed since you read it (now version ${current.version}, ${current.updateState}); retry`, { version: current.version, stale: true });
      }
      if (request.spec) await claimServicePorts(manager, request.id, request.spec.ports);
    });
    return this.byId(request.id);
  }

  async delete(id: string): Promise<boolean> {
    return ((await this.services.delete({ id })).affected ?? 0) > 0;
  }

  /** Takes or renews `name` for `holder` when it is free, expired or already held by it; one statement, so two replicas cannot both win. */
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<{ held: boolean; holder: string; expiresAt: string }> {
    const rows: Array<{ holder: string; expires_at: Date }> = await this.services.query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
       RETURNING holder, expires_at`,
      [name, holder, ttlMs],
    );
    if (rows[0]) return { held: true, holder, expiresAt: rows[0].expires_at.toISOString() };
    const [current] = await this.services.query(`SELECT holder, expires_at FROM leases WHERE name = $1`, [name]);
    return { held: false, holder: current.holder, expiresAt: new Date(current.expires_at).toISOString() };
  }

  private async byId(id: string): Promise<ServiceRecord> {
    const row = await this.services.findOneBy({ id });
    if (!row) throw new NotFoundError(`no such service: ${id}`);
    return toRecord(row);
  }
}

function toRecord(row: ServiceEntity): ServiceRecord {
  return {
    id: row.id,
    name: row.name,
    teamId: row.teamId,
    ownerId: row.ownerId,
    spec: row.spec,
    previousSpec: row.previousSpec,
    version: row.version,
    updateState: row.updateState,
    updateMessage: row.updateMessage,
    updateFailedTasks: row.updateFailedTasks,
    restartHistory: row.restartHistory,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
