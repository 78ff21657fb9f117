import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import {
  ConflictError,
  ContainerHealthChange,
  ContainerRecord,
  ContainerSpec,
  ContainerStateChange,
  HostUsage,
  InvalidArgumentError,
  NetworkEndpoint,
  NotFoundError,
} from '@muelle/contracts';
import { Brackets, EntityManager, QueryFailedError, Repository } from 'typeorm';
import { ContainerEntity } from '../entities';
import { TeamLimitsService } from '../teams/team-limits.service';
import { NetworkEndpoints } from '../networks/network-endpoints';
import { NetworkEntity } from '../networks/network.entity';
import { friendlyName } from './container-names';

/** PostgreSQL's unique_violation. */
const UNIQUE_VIOLATION = '23505';

/** States that hold a reservation on their host. */
const LIVE_STATES = ['created', 'running', 'paused', 'restarting'] as const;

export interface ListOptions {
  all: boolean;
  limit: number;
  cursor?: string;
  teamId?: string | null;
  filters: { state?: string[]; hostId?: string; name?: string; label?: string[] };
}

@Injectable()
export class ContainersService {
  constructor(
    @InjectRepository(ContainerEntity) private readonly containers: Repository<ContainerEntity>,
    private readonly limits: TeamLimitsService,
    private readonly endpoints: NetworkEndpoints,
  ) {}

  /**
   * Checks the placement is still current, the team's quota, and inserts in one transaction (the
   * placement row lock first, then the team's quota lock: every writer takes them in that order).
   */
  async create(input: { id: string; name?: string; teamId: string | null; hostId: string; spec: ContainerSpec; placementGeneration?: number }): Promise<ContainerRecord> {
    const id = await this.containers.manager.transaction(async (manager) => {
      await bumpPlacementGeneration(manager, input.placementGeneration);
      if (input.teamId) await this.limits.admitContainer(manager, input.teamId, input.spec);
      const spec = await this.endpoints.assign(manager, input.teamId, input.spec);
      return this.insert(manager.getRepository(ContainerEntity), { ...input, spec });
    });
    return this.byId(id);
  }

  /** A stopped container about to start again must fit in its team's quota. */
  async admitStart(id: string): Promise<void> {
    await this.containers.manager.transaction(async (manager) => {
      const row = await manager.getRepository(ContainerEntity).findOneBy({ id });
      if (!row) throw new NotFoundError(`no such container: ${id}`);
      if (row.teamId) await this.limits.admitContainer(manager, row.teamId, row.spec, id);
    });
  }

  private async insert(containers: Repository<ContainerEntity>, input: { id: string; name?: string; teamId: string | null; hostId: string; spec: ContainerSpec }): Promise<string> {
    const now = new Date();
    // A generated name may collide: try a few, as docker does.
    for (let attempt = 0; attempt < 8; attempt++) {
      const name = input.name ?? friendlyName() + (attempt > 3 ? `_${attempt}` : '');
      const inserted = await containers
        .createQueryBuilder()
        .insert()
        .values({
          id: input.id,
          name,
          teamId: input.teamId,
          hostId: input.hostId,
          image: input.spec.image,
          imageDigest: null,
          spec: input.spec,
          labels: input.spec.labels,
          state: 'created',
          exitCode: null,
          oomKilled: false,
          restartCount: 0,
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          stateChangedAt: now,
        })
        .orIgnore()
        .returning('id')
        .execute();
      if (inserted.raw.length) return input.id;
      if (await containers.existsBy({ id: input.id })) throw new ConflictError(`container id ${input.id} already exists`);
      if (input.name) throw new ConflictError(`the container name "${input.name}" is already in use`, { name: input.name });
    }
    throw new ConflictError('could not find a free container name; pass one');
  }

  /** Full id, unique prefix of at least 3 hex characters, or name — like docker. */
  async get(ref: string, teamId?: string | null): Promise<ContainerRecord> {
    const query = this.containers.createQueryBuilder('c');
    if (/^[a-f0-9]{3,64}$/.test(ref)) {
      query.where(new Brackets((q) => q.where('c.name = :ref', { ref }).orWhere('c.id LIKE :prefix', { prefix: `${ref}%` })));
    } else {
      query.where('c.name = :ref', { ref });
    }
    if (teamId) query.andWhere('c.team_id = :teamId', { teamId });
    const rows = await query.orderBy('c.name = :ref', 'DESC').limit(2).getMany();
    const exact = rows.find((r) => r.name === ref || r.id === ref);
    if (exact) return toRecord(exact);
    if (rows.length > 1) throw new InvalidArgumentError(`"${ref}" matches more than one container; use more characters`);
    if (!rows.length) throw new NotFoundError(`no such container: ${ref}`);
    return toRecord(rows[0]);
  }

  async list(options: ListOptions): Promise<{ items: ContainerRecord[]; nextCursor: string | null }> {
    const rows = await this.listQuery(options).getMany();
    const page = rows.slice(0, options.limit);
    const last = page[page.length - 1];
    return { items: page.map(toRecord), nextCursor: rows.length > options.limit && last ? encodeCursor(last) : null };
  }

  /** The query of one page (limit + 1 rows, to know whether another follows); apart so tests can read its plan. */
  listQuery(options: ListOptions) {
    const query = this.containers.createQueryBuilder('c');
    const states = options.filters.state ?? (options.all ? undefined : ['running', 'restarting', 'paused']);
    if (states) query.andWhere('c.state IN (:...states)', { states });
    if (options.teamId) query.andWhere('c.team_id = :teamId', { teamId: options.teamId });
    if (options.filters.hostId) query.andWhere('c.host_id = :hostId', { hostId: options.filters.hostId });
    if (options.filters.name) query.andWhere('c.name LIKE :name', { name: `%${escapeLike(options.filters.name)}%` });
    for (const [index, label] of (options.filters.label ?? []).entries()) {
      const [key, value] = splitOnce(label, '=');
      if (value === undefined) query.andWhere(`c.labels ? :lk${index}`, { [`lk${index}`]: key });
      // Containment rather than `->>`: the GIN index on labels answers it (the services reconciler
      // asks this once per service each round; `->>` read every container each time).
      else query.andWhere(`c.labels @> CAST(:lv${index} AS jsonb)`, { [`lv${index}`]: JSON.stringify({ [key]: value }) });
    }
    if (options.cursor) {
      const [createdAt, id] = decodeCursor(options.cursor);
      query.andWhere('(c.created_at, c.id) < (:createdAt, :id)', { createdAt, id });
    }
    return query.orderBy('c.created_at', 'DESC').addOrderBy('c.id', 'DESC').limit(options.limit + 1);
  }

  /**
   * Records a state change unless a newer one is already recorded (events may arrive out of order),
   * and only from the host the container is assigned to: a late event from a host the container
   * was moved away from must not pull the record back there.
   */
  async recordState(change: ContainerStateChange): Promise<void> {
    const at = new Date(change.at);
    const values: Partial<ContainerEntity> = { state: change.state, stateChangedAt: at };
    // The agent sends the container's own start and finish times; `at` is when it reported them.
    if (change.state === 'running') Object.assign(values, { startedAt: new Date(change.startedAt ?? change.at), exitCode: null, oomKilled: false, finishedAt: null });
    if (change.state === 'exited' || change.state === 'dead' || change.state === 'lost') {
      Object.assign(values, { finishedAt: new Date(change.finishedAt ?? change.at), exitCode: change.exitCode ?? null, oomKilled: change.oomKilled ?? false });
      // A container whose `running` report was lost (the platform died right after the start) still gets its start time.
      if (change.startedAt) values.startedAt = new Date(change.startedAt);
    }
    if (change.restartCount !== undefined) values.restartCount = change.restartCount;
    if (change.imageDigest) values.imageDigest = change.imageDigest;
    await this.containers
      .createQueryBuilder()
      .update()
      .set(values)
      .where('id = :id AND state_changed_at <= :at AND host_id = :hostId', { id: change.id, at, hostId: change.hostId })
      .execute();
  }

  /** Like recordState: the newest health by `at`, only from the container's current host. */
  async recordHealth(change: ContainerHealthChange): Promise<void> {
    const at = new Date(change.at);
    await this.containers
      .createQueryBuilder()
      .update()
      .set({ healthStatus: change.status, healthFailingStreak: change.failingStreak, healthChangedAt: at })
      .where('id = :id AND host_id = :hostId AND (health_changed_at IS NULL OR health_changed_at <= :at)', { id: change.id, at, hostId: change.hostId })
      .execute();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.containers.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** Names are unique across the platform (the table's UNIQUE constraint decides, so two renames cannot race). */
  async rename(id: string, name: string): Promise<ContainerRecord> {
    try {
      const result = await this.containers.update({ id }, { name });
      if (!result.affected) throw new NotFoundError(`no such container: ${id}`);
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string })?.code === UNIQUE_VIOLATION)
        throw new ConflictError(`the container name "${name}" is already in use`, { name });
      throw error;
    }
    return this.byId(id);
  }

  /** `network connect`: see NetworkEndpoints.connect. */
  connectNetwork(id: string, network: Pick<NetworkEndpoint, 'id' | 'name' | 'aliases'>): Promise<ContainerRecord> {
    return this.changeNetworks(id, (manager, row) => this.endpoints.connect(manager, row, network));
  }

  /** `network disconnect`: see NetworkEndpoints.disconnect (named by the network's record for the message). */
  disconnectNetwork(id: string, networkId: string): Promise<ContainerRecord> {
    return this.changeNetworks(id, async (manager, row) => {
      const network = await manager.findOneBy(NetworkEntity, { id: networkId });
      return this.endpoints.disconnect(row, { id: networkId, name: network?.name ?? networkId });
    });
  }

  /** The container's row locked while its networks change (a concurrent change waits and sees this one), the spec written back. */
  private async changeNetworks(id: string, change: (manager: EntityManager, row: ContainerEntity) => ContainerSpec | Promise<ContainerSpec>): Promise<ContainerRecord> {
    await this.containers.manager.transaction(async (manager) => {
      const containers = manager.getRepository(ContainerEntity);
      const row = await containers.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!row) throw new NotFoundError(`no such container: ${id}`);
      // Records from before team networks have no list.
      row.spec = { ...row.spec, networks: row.spec.networks ?? [] };
      await containers.update({ id }, { spec: await change(manager, row) });
    });
    return this.byId(id);
  }

  async reassign(input: { id: string; hostId: string; fromHostId?: string; placementGeneration?: number }): Promise<ContainerRecord> {
    await this.containers.manager.transaction(async (manager) => {
      await bumpPlacementGeneration(manager, input.placementGeneration);
      const containers = manager.getRepository(ContainerEntity);
      const result = await containers.update(
        { id: input.id, ...(input.fromHostId ? { hostId: input.fromHostId } : {}) },
        { hostId: input.hostId, state: 'created', stateChangedAt: new Date(), healthStatus: null, healthFailingStreak: 0, healthChangedAt: null },
      );
      if (result.affected) return;
      if (input.fromHostId && (await containers.existsBy({ id: input.id }))) {
        throw new ConflictError(`container ${input.id} is no longer on host ${input.fromHostId}`, { moved: true });
      }
      throw new NotFoundError(`no such container: ${input.id}`);
    });
    return this.byId(input.id);
  }

  /** `reassign` for several containers at one generation, in one transaction (`reassignContainers`). */
  async reassignMany(input: { moves: Array<{ id: string; hostId: string; fromHostId: string }>; placementGeneration: number }): Promise<{ moved: string[]; skipped: string[] }> {
    const moved: string[] = [];
    const skipped: string[] = [];
    await this.containers.manager.transaction(async (manager) => {
      await bumpPlacementGeneration(manager, input.placementGeneration);
      const containers = manager.getRepository(ContainerEntity);
      for (const move of input.moves) {
        const result = await containers.update(
          { id: move.id, hostId: move.fromHostId },
          { hostId: move.hostId, state: 'created', stateChangedAt: new Date(), healthStatus: null, healthFailingStreak: 0, healthChangedAt: null },
        );
        (result.affected ? moved : skipped).push(move.id);
      }
    });
    return { moved, skipped };
  }

  /** For the `muelle_containers` gauge. */
  async countByHostAndState(): Promise<Array<{ hostId: string | null; state: string; count: number }>> {
    const rows: Array<{ host_id: string | null; state: string; count: string }> = await this.containers.query(
      `SELECT host_id, state, count(*) AS count FROM containers GROUP BY host_id, state`,
    );
    return rows.map((r) => ({ hostId: r.host_id, state: r.state, count: Number(r.count) }));
  }

  /** What is reserved on each host, and the placement generation it is current for. */
  async usage(): Promise<{ hosts: HostUsage[]; placementGeneration: number }> {
    // Read first: a placement recorded between the two reads makes the snapshot stale, not wrong.
    const [{ value }] = await this.containers.query(`SELECT value FROM placement_generation WHERE id = 1`);
    return { hosts: await this.usageByHost(), placementGeneration: Number(value) };
  }

  /**
   * Sums in SQL rather than reading every live container's spec into JavaScript: with 20,000
   * records over 50 hosts (tools/bench/api/scale.mjs) the snapshot went from 172 to 18 ms
   * (PostgreSQL) and from 349 to 48 ms (PGlite) at the median, with the list's indexes.
   */
  private async usageByHost(): Promise<HostUsage[]> {
    const live = `c.state IN (${LIVE_STATES.map((state) => `'${state}'`).join(', ')}) AND c.host_id IS NOT NULL`;
    const totals: Array<{ host_id: string; containers: number | string; memory: string | number; cpus: string | number }> = await this.containers.query(
      `SELECT c.host_id, count(*) AS containers,
              coalesce(sum((c.spec #>> '{resources,memoryBytes}')::bigint), 0) AS memory,
              coalesce(sum((c.spec #>> '{resources,cpus}')::float8), 0) AS cpus
         FROM containers c WHERE ${live} GROUP BY c.host_id`,
    );
    const ports: Array<{ host_id: string; port: string }> = await this.containers.query(
      `SELECT c.host_id, concat(p ->> 'hostIp', ':', p ->> 'hostPort', '/', p ->> 'protocol') AS port
         FROM containers c
         CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.spec -> 'ports') = 'array' THEN c.spec -> 'ports' ELSE '[]'::jsonb END) AS p
        WHERE ${live} AND coalesce((p ->> 'hostPort')::int, 0) <> 0`,
    );
    const services: Array<{ host_id: string; service: string; count: number | string }> = await this.containers.query(
      `SELECT c.host_id, c.spec #>> '{labels,muelle.service}' AS service, count(*) AS count
         FROM containers c WHERE ${live} AND coalesce(c.spec #>> '{labels,muelle.service}', '') <> '' GROUP BY 1, 2`,
    );
    const byHost = new Map<string, HostUsage>(
      totals.map((row) => [
        row.host_id,
        { hostId: row.host_id, containers: Number(row.containers), reservedMemoryBytes: Number(row.memory), reservedCpus: Number(row.cpus), usedPorts: [], services: {} },
      ]),
    );
    for (const row of ports) byHost.get(row.host_id)?.usedPorts.push(row.port);
    for (const row of services) {
      const usage = byHost.get(row.host_id);
      if (usage) usage.services[row.service] = Number(row.count);
    }
    return [...byHost.values()];
  }

  private async byId(id: string): Promise<ContainerRecord> {
    const row = await this.containers.findOneBy({ id });
    if (!row) throw new NotFoundError(`no such container: ${id}`);
    return toRecord(row);
  }
}

/**
 * Bumps the placement generation under its row lock, so placements commit one at a time. With
 * `expected`, only if no placement happened since the caller's snapshot: a CONFLICT with
 * `details.stalePlacement` tells it to decide again from fresh usage.
 */
async function bumpPlacementGeneration(manager: EntityManager, expected: number | undefined): Promise<void> {
  const [rows] = (await manager.query(
    expected === undefined
      ? `UPDATE placement_generation SET value = value + 1 WHERE id = 1 RETURNING value`
      : `UPDATE placement_generation SET value = value + 1 WHERE id = 1 AND value = $1 RETURNING value`,
    expected === undefined ? [] : [expected],
  )) as [unknown[], number];
  if (!rows.length) throw new ConflictError('another placement was recorded since this one was decided', { stalePlacement: true });
}

function toRecord(row: ContainerEntity): ContainerRecord {
  return {
    id: row.id,
    name: row.name,
    hostId: row.hostId,
    teamId: row.teamId,
    image: row.image,
    imageDigest: row.imageDigest,
    spec: row.spec,
    labels: row.labels,
    state: row.state,
    exitCode: row.exitCode,
    oomKilled: row.oomKilled,
    restartCount: row.restartCount,
    health: row.healthStatus,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

const encodeCursor = (row: ContainerEntity) => Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
function decodeCursor(cursor: string): [string, string] {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !/^[a-f0-9]{64}$/.test(id)) throw new InvalidArgumentError('invalid cursor');
  return [createdAt, id];
}
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index < 0 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}
