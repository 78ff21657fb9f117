import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { ConflictError, createVolume, NotFoundError, ParsedRequestOf, VolumeRecord } from '@muelle/contracts';
import { EntityManager, Repository } from 'typeorm';
import { VolumeEntity } from './volume.entity';

const SAME_TEAM = 'team_id IS NOT DISTINCT FROM $1';

/** Teams' named volumes: one name per team, each on the host where its directory is. */
@Injectable()
export class VolumesService {
  constructor(@InjectRepository(VolumeEntity) private readonly volumes: Repository<VolumeEntity>) {}

  /** Idempotent, as Docker's: an existing volume is returned unchanged (see the contract for `requireHost`). */
  async create(request: ParsedRequestOf<typeof createVolume>): Promise<{ volume: VolumeRecord; created: boolean }> {
    const row: VolumeEntity = { id: randomUUID(), name: request.name, teamId: request.teamId, driver: request.driver, labels: request.labels, hostId: request.hostId, createdAt: new Date() };
    // ON CONFLICT: two creates racing for one name both end with the one row that won.
    const inserted: unknown[] = await this.volumes.query(
      `INSERT INTO volumes (id, name, team_id, driver, labels, host_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (COALESCE(team_id, '00000000-0000-0000-0000-000000000000'::uuid), name) DO NOTHING RETURNING id`,
      [row.id, row.name, row.teamId, row.driver, JSON.stringify(row.labels), row.hostId, row.createdAt],
    );
    if (inserted.length) return { volume: toRecord(row), created: true };
    const existing = await this.find(this.volumes.manager, request.teamId, request.name);
    if (!existing) throw new ConflictError(`volume ${request.name} was removed while being created; try again`);
    if (request.requireHost && existing.hostId !== request.hostId) {
      throw new ConflictError(`volume ${request.name} lives on host ${existing.hostId}, not ${request.hostId}`, { hostId: existing.hostId });
    }
    return { volume: toRecord(existing), created: false };
  }

  async get(teamId: string | null, name: string): Promise<VolumeRecord> {
    const row = await this.find(this.volumes.manager, teamId, name);
    if (!row) throw new NotFoundError(`no such volume: ${name}`);
    return toRecord(row);
  }

  async list(teamId?: string | null): Promise<Array<VolumeRecord & { usedBy: string[] }>> {
    const query = this.volumes.createQueryBuilder('v');
    if (teamId !== undefined) query.where('v.team_id IS NOT DISTINCT FROM :teamId', { teamId });
    const rows = await query.orderBy('v.name').getMany();
    const out: Array<VolumeRecord & { usedBy: string[] }> = [];
    for (const row of rows) out.push({ ...toRecord(row), usedBy: await this.users(this.volumes.manager, row.teamId, row.name) });
    return out;
  }

  /** CONFLICT naming the containers that mount it; the check and the delete are one transaction. */
  async delete(teamId: string | null, name: string): Promise<VolumeRecord | null> {
    return this.volumes.manager.transaction(async (manager) => {
      const row = await this.find(manager, teamId, name, true);
      if (!row) return null;
      const users = await this.users(manager, teamId, name);
      if (users.length) throw new ConflictError(`volume ${name} is in use by container ${users.join(', ')} (remove it first)`, { containers: users });
      await manager.delete(VolumeEntity, { id: row.id });
      return toRecord(row);
    });
  }

  private async find(manager: EntityManager, teamId: string | null, name: string, lock = false): Promise<VolumeEntity | undefined> {
    const query = manager.createQueryBuilder(VolumeEntity, 'v').where('v.team_id IS NOT DISTINCT FROM :teamId', { teamId }).andWhere('v.name = :name', { name });
    if (lock) query.setLock('pessimistic_write');
    return (await query.getOne()) ?? undefined;
  }

  /** Names of the team's containers whose spec mounts the volume, running or not. */
  private async users(manager: EntityManager, teamId: string | null, name: string): Promise<string[]> {
    const rows: Array<{ name: string }> = await manager.query(`SELECT name FROM containers WHERE ${SAME_TEAM} AND spec->'volumes' @> $2::jsonb ORDER BY name`, [
      teamId,
      JSON.stringify([{ kind: 'volume', source: name }]),
    ]);
    return rows.map((r) => r.name);
  }
}

function toRecord(row: VolumeEntity): VolumeRecord {
  return { name: row.name, teamId: row.teamId, driver: row.driver, labels: row.labels, hostId: row.hostId, createdAt: row.createdAt.toISOString() };
}
