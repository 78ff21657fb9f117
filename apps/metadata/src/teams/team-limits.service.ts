import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import {
  ContainerSpec,
  EMPTY_TEAM_POLICY,
  NotFoundError,
  PermissionDeniedError,
  TeamPolicy,
  TeamPolicyRecord,
  TeamQuota,
  TeamQuotaRecord,
  TeamUsage,
  UNLIMITED_QUOTA,
  formatBytes,
} from '@muelle/contracts';
import { EntityManager, Repository } from 'typeorm';
import { TeamEntity } from './team.entity';

/** States that hold a reservation (the scheduler's live states): what the containers quota counts. */
export const RESERVING_STATES = ['created', 'running', 'paused', 'restarting'];
/** First key of the two-key advisory lock that serialises one team's quota checks. */
const TEAM_QUOTA_LOCK = 7_101_001;

interface QuotaRow {
  max_containers: number | null;
  max_memory_bytes: string | null;
  max_cpus: number | null;
  max_registry_bytes: string | null;
  updated_at: Date;
}

/**
 * Team policies and quotas (admin decisions, SECURITY.md §3–4). Quota checks run inside the
 * caller's transaction under a per-team advisory lock, so concurrent creates of one team are
 * checked one after another and cannot overshoot together.
 */
@Injectable()
export class TeamLimitsService {
  constructor(@InjectRepository(TeamEntity) private readonly teams: Repository<TeamEntity>) {}

  async team(ref: string, manager: EntityManager = this.teams.manager): Promise<TeamEntity> {
    const repo = manager.getRepository(TeamEntity);
    const team = /^[0-9a-f-]{36}$/.test(ref) ? await repo.findOneBy({ id: ref }) : await repo.findOneBy({ name: ref });
    if (!team) throw new NotFoundError(`no such team: ${ref}`, { field: 'team' });
    return team;
  }

  async policy(ref: string): Promise<TeamPolicyRecord> {
    const team = await this.team(ref);
    const rows: Array<{ policy: TeamPolicy; updated_at: Date }> = await this.teams.manager.query(`SELECT policy, updated_at FROM team_policies WHERE team_id = $1`, [team.id]);
    const row = rows[0];
    return { teamId: team.id, teamName: team.name, policy: row ? TeamPolicy.parse(row.policy) : EMPTY_TEAM_POLICY, updatedAt: row?.updated_at.toISOString() ?? null };
  }

  async setPolicy(ref: string, policy: TeamPolicy): Promise<TeamPolicyRecord> {
    const team = await this.team(ref);
    await this.teams.manager.query(
      `INSERT INTO team_policies (team_id, policy, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (team_id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at`,
      [team.id, JSON.stringify(policy)],
    );
    return this.policy(team.id);
  }

  async quota(ref: string): Promise<TeamQuotaRecord> {
    const team = await this.team(ref);
    const row = await this.quotaRow(this.teams.manager, team.id);
    return { teamId: team.id, teamName: team.name, quota: toQuota(row), usage: await this.usage(this.teams.manager, team.id), updatedAt: row?.updated_at.toISOString() ?? null };
  }

  async setQuota(ref: string, quota: TeamQuota): Promise<TeamQuotaRecord> {
    const team = await this.team(ref);
    await this.teams.manager.query(
      `INSERT INTO team_quotas (team_id, max_containers, max_memory_bytes, max_cpus, max_registry_bytes, updated_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (team_id) DO UPDATE SET max_containers = EXCLUDED.max_containers, max_memory_bytes = EXCLUDED.max_memory_bytes,
         max_cpus = EXCLUDED.max_cpus, max_registry_bytes = EXCLUDED.max_registry_bytes, updated_at = EXCLUDED.updated_at`,
      [team.id, quota.containers, quota.memoryBytes, quota.cpus, quota.registryBytes],
    );
    return this.quota(team.id);
  }

  /**
   * Inside `manager`'s transaction: takes the team's quota lock (held until the transaction ends)
   * and refuses with PERMISSION_DENIED, naming the quota and the figures, when adding `spec` would
   * exceed it. `excludeId` leaves a container out of the usage (it is the one being started).
   */
  async admitContainer(manager: EntityManager, teamId: string, spec: Pick<ContainerSpec, 'resources'>, excludeId?: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [TEAM_QUOTA_LOCK, teamId]);
    const quota = toQuota(await this.quotaRow(manager, teamId));
    if (quota.containers === null && quota.memoryBytes === null && quota.cpus === null) return;
    const usage = await this.usage(manager, teamId, excludeId);
    const team = (await this.team(teamId, manager)).name;
    if (quota.containers !== null && usage.containers + 1 > quota.containers)
      throw new PermissionDeniedError(`team ${team}: containers quota ${quota.containers}, ${usage.containers} reserved, 1 asked`, { quota: 'containers' });
    const memory = spec.resources.memoryBytes;
    if (quota.memoryBytes !== null) {
      if (memory === undefined) throw new PermissionDeniedError(`team ${team}: memory quota ${formatBytes(quota.memoryBytes)}: set a memory limit (--memory)`, { quota: 'memory' });
      if (usage.memoryBytes + memory > quota.memoryBytes)
        throw new PermissionDeniedError(`team ${team}: memory quota ${formatBytes(quota.memoryBytes)}, ${formatBytes(usage.memoryBytes)} reserved, ${formatBytes(memory)} asked`, { quota: 'memory' });
    }
    const cpus = spec.resources.cpus;
    if (quota.cpus !== null) {
      if (cpus === undefined) throw new PermissionDeniedError(`team ${team}: CPU quota ${quota.cpus}: set a CPU limit (--cpus)`, { quota: 'cpus' });
      if (usage.cpus + cpus > quota.cpus + 1e-9) throw new PermissionDeniedError(`team ${team}: CPU quota ${quota.cpus}, ${round(usage.cpus)} reserved, ${cpus} asked`, { quota: 'cpus' });
    }
  }

  private async quotaRow(manager: EntityManager, teamId: string): Promise<QuotaRow | undefined> {
    const rows: QuotaRow[] = await manager.query(`SELECT max_containers, max_memory_bytes, max_cpus, max_registry_bytes, updated_at FROM team_quotas WHERE team_id = $1`, [teamId]);
    return rows[0];
  }

  private async usage(manager: EntityManager, teamId: string, excludeId?: string): Promise<TeamUsage> {
    const [containers]: Array<{ count: number; memory: string; cpus: number }> = await manager.query(
      `SELECT count(*)::int AS count,
              coalesce(sum((spec->'resources'->>'memoryBytes')::bigint), 0)::text AS memory,
              coalesce(sum((spec->'resources'->>'cpus')::float8), 0)::float8 AS cpus
         FROM containers WHERE team_id = $1 AND state = ANY($2) AND ($3::text IS NULL OR id <> $3)`,
      [teamId, RESERVING_STATES, excludeId ?? null],
    );
    // A team's repositories are the ones under its name (`<team>/…`); each blob counts once.
    const [registry]: Array<{ bytes: string }> = await manager.query(
      `SELECT coalesce(sum(b.size), 0)::text AS bytes FROM blobs b
        WHERE b.digest IN (SELECT rb.digest FROM repository_blobs rb
                             JOIN repositories r ON r.id = rb.repository_id
                             JOIN teams t ON t.id = $1
                            WHERE left(r.name, length(t.name) + 1) = t.name || '/')`,
      [teamId],
    );
    return { containers: containers.count, memoryBytes: Number(containers.memory), cpus: round(containers.cpus), registryBytes: Number(registry.bytes) };
  }
}

function toQuota(row: QuotaRow | undefined): TeamQuota {
  if (!row) return UNLIMITED_QUOTA;
  const num = (value: string | null) => (value === null ? null : Number(value));
  return { containers: row.max_containers, memoryBytes: num(row.max_memory_bytes), cpus: row.max_cpus, registryBytes: num(row.max_registry_bytes) };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
