import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { listEvents, ParsedRequestOf, recordEvent, StoredPlatformEvent } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { Repository } from 'typeorm';
import { MetadataConfig } from '../config';
import { METADATA_CONFIG } from '../tokens';
import { PlatformEventEntity } from './platform-event.entity';

/** How often the age bound is applied even when no event comes in. */
const PRUNE_EVERY_MS = 60_000;
/** Inserts between two count prunes: the table may exceed its count by this much, briefly. */
const PRUNE_EVERY_INSERTS = 200;

/** The retention bound: events older than `olderThan`, and all but the newest `keep`, go. */
export function retentionBound(config: Pick<MetadataConfig, 'MUELLE_EVENTS_KEEP_COUNT' | 'MUELLE_EVENTS_KEEP_SECONDS'>, now = Date.now()) {
  return { olderThan: new Date(now - config.MUELLE_EVENTS_KEEP_SECONDS * 1000), keep: config.MUELLE_EVENTS_KEEP_COUNT };
}

/** The event history: recorded by the api as it publishes, read back by `events --since`, kept within bounds. */
@Injectable()
export class EventsService implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private insertsSincePrune = 0;

  constructor(
    @InjectRepository(PlatformEventEntity) private readonly events: Repository<PlatformEventEntity>,
    @Inject(METADATA_CONFIG) private readonly config: MetadataConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit() {
    this.timer = setInterval(() => void this.pruneLogged(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy() {
    clearInterval(this.timer);
  }

  async record(event: ParsedRequestOf<typeof recordEvent>): Promise<{ id: string }> {
    const inserted = await this.events
      .createQueryBuilder()
      .insert()
      // typeorm's insert typing does not model jsonb values
      .values({ type: event.type, action: event.action, objectId: event.id, teamId: event.teamId, at: new Date(event.at), attributes: event.attributes as never, labels: (event.labels ?? null) as never })
      .returning('id')
      .execute();
    if (++this.insertsSincePrune >= PRUNE_EVERY_INSERTS) void this.pruneLogged();
    return { id: String(inserted.raw[0].id) };
  }

  async list(request: ParsedRequestOf<typeof listEvents>): Promise<{ items: StoredPlatformEvent[] }> {
    const query = this.events.createQueryBuilder('e').where('e.at >= :since AND e.at <= :until', { since: request.since, until: request.until });
    if (request.teamId !== undefined) query.andWhere('(e.team_id IS NULL OR e.team_id = :teamId)', { teamId: request.teamId });
    if (request.types) query.andWhere('e.type IN (:...types)', { types: request.types });
    // The newest `limit` of the window, handed back oldest first.
    const rows = await query.orderBy('e.at', 'DESC').addOrderBy('e.id', 'DESC').limit(request.limit).getMany();
    return { items: rows.reverse().map(toEvent) };
  }

  /** Applies the retention bound now; answers how many events went. */
  async prune(now = Date.now()): Promise<number> {
    this.insertsSincePrune = 0;
    const { olderThan, keep } = retentionBound(this.config, now);
    const result = await this.events.query(
      `DELETE FROM platform_events WHERE at < $1 OR id <= (SELECT id FROM platform_events ORDER BY id DESC OFFSET $2 LIMIT 1)`,
      [olderThan.toISOString(), keep],
    );
    // pg answers [rows, count] for a DELETE through typeorm's query()
    return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
  }

  private async pruneLogged() {
    try {
      await this.prune();
    } catch (error) {
      // The next prune tries again; the history only grows a little meanwhile.
      this.logger.warn({ err: error }, 'pruning the event history failed');
    }
  }
}

function toEvent(row: PlatformEventEntity): StoredPlatformEvent {
  return {
    type: row.type,
    action: row.action,
    id: row.objectId,
    teamId: row.teamId,
    at: row.at.toISOString(),
    attributes: row.attributes,
    ...(row.labels ? { labels: row.labels } : {}),
  };
}
