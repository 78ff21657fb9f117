import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { BuildRecord, failInterruptedBuilds, failLostBuild, getBuildRecord, InvalidArgumentError, listBuildRecords, NotFoundError, ParsedRequestOf, saveBuildRecord } from '@muelle/contracts';
import { Repository } from 'typeorm';
import { BuildEntity } from './build.entity';

/** What an interrupted build's record says: the builder process that ran it is gone. */
const INTERRUPTED = { code: 'UNAVAILABLE', message: 'the builder stopped while this build was running', details: { kind: 'internal' as const } };

@Injectable()
export class BuildRecordsService {
  constructor(@InjectRepository(BuildEntity) private readonly builds: Repository<BuildEntity>) {}

  async save(record: ParsedRequestOf<typeof saveBuildRecord>): Promise<{ id: string }> {
    await this.builds.upsert(toRow(record), ['id']);
    return { id: record.id };
  }

  async get(request: ParsedRequestOf<typeof getBuildRecord>): Promise<BuildRecord> {
    const row = await this.builds.findOneBy({ id: request.id });
    // Another team's build is answered as unknown, like containers.
    if (!row || (request.teamId !== undefined && row.teamId !== request.teamId)) throw new NotFoundError(`no such build: ${request.id}`);
    return toRecord(row);
  }

  async list(request: ParsedRequestOf<typeof listBuildRecords>): Promise<{ items: BuildRecord[]; nextCursor: string | null }> {
    const query = this.builds.createQueryBuilder('b');
    if (request.teamId !== undefined) query.andWhere('b.team_id = :teamId', { teamId: request.teamId });
    if (request.cursor) {
      const [startedAt, id] = decodeCursor(request.cursor);
      query.andWhere('(b.started_at, b.id) < (:startedAt, :id)', { startedAt, id });
    }
    const rows = await query.orderBy('b.started_at', 'DESC').addOrderBy('b.id', 'DESC').limit(request.limit + 1).getMany();
    const page = rows.slice(0, request.limit);
    const last = page[page.length - 1];
    return { items: page.map(toRecord), nextCursor: rows.length > request.limit && last ? encodeCursor(last) : null };
  }

  async failLost(request: ParsedRequestOf<typeof failLostBuild>): Promise<{ failed: boolean }> {
    const result = await this.builds
      .createQueryBuilder()
      .update()
      .set({ state: 'failed', finishedAt: () => 'now()', error: { code: 'UNAVAILABLE', message: request.message, details: { kind: 'internal' } } })
      .where("id = :id AND state = 'running'", { id: request.id })
      .returning('id')
      .execute();
    return { failed: (result.raw as unknown[]).length > 0 };
  }

  async failInterrupted(request: ParsedRequestOf<typeof failInterruptedBuilds>): Promise<{ failed: string[] }> {
    const result = await this.builds
      .createQueryBuilder()
      .update()
      .set({ state: 'failed', finishedAt: () => 'now()', error: INTERRUPTED })
      .where("builder_id = :builderId AND state = 'running' AND started_at < :startedBefore", request)
      .returning('id')
      .execute();
    return { failed: (result.raw as { id: string }[]).map((row) => row.id) };
  }
}

function toRow(record: ParsedRequestOf<typeof saveBuildRecord>): Partial<BuildEntity> {
  return {
    id: record.id,
    builderId: record.builderId,
    teamId: record.teamId,
    requestedBy: record.requestedBy,
    state: record.state,
    tags: record.tags,
    steps: record.result?.steps ?? null,
    cachedSteps: record.result?.cachedSteps ?? null,
    imageDigest: record.result?.digest ?? null,
    configDigest: record.result?.configDigest ?? null,
    pushed: record.result?.pushed ?? [],
    durationMs: record.result?.durationMs ?? null,
    error: record.error ?? null,
    startedAt: new Date(record.startedAt),
    finishedAt: record.finishedAt ? new Date(record.finishedAt) : null,
  };
}

function toRecord(row: BuildEntity): BuildRecord {
  const result =
    row.state === 'succeeded' && row.imageDigest && row.configDigest
      ? { buildId: row.id, digest: row.imageDigest, configDigest: row.configDigest, pushed: row.pushed, steps: row.steps ?? 0, cachedSteps: row.cachedSteps ?? 0, durationMs: row.durationMs ?? 0 }
      : undefined;
  return {
    id: row.id,
    state: row.state,
    tags: row.tags,
    requestedBy: row.requestedBy,
    teamId: row.teamId,
    startedAt: row.startedAt.toISOString(),
    ...(row.finishedAt ? { finishedAt: row.finishedAt.toISOString() } : {}),
    ...(result ? { result } : {}),
    ...(row.error ? { error: row.error } : {}),
  };
}

const encodeCursor = (row: BuildEntity) => Buffer.from(`${row.startedAt.toISOString()}|${row.id}`).toString('base64url');
function decodeCursor(cursor: string): [string, string] {
  const [startedAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!startedAt || !id || Number.isNaN(Date.parse(startedAt)) || !/^[a-z0-9]{8,40}$/.test(id)) throw new InvalidArgumentError('invalid cursor');
  return [startedAt, id];
}
