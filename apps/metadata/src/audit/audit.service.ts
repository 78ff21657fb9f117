import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { AuditEntry, ParsedRequestOf, listAudit } from '@muelle/contracts';
import { Repository } from 'typeorm';
import { AuditEntryEntity } from '../entities';

@Injectable()
export class AuditService {
  constructor(
    @InjectRepository(AuditEntryEntity)
    private readonly entries: Repository<AuditEntryEntity>,
  ) {}

  async record(entry: { actor: string; action: string; target: string; details?: Record<string, unknown> }): Promise<{ id: string }> {
    const inserted = await this.entries
      .createQueryBuilder()
      .insert()
      .values({
        at: new Date(),
        actor: entry.actor,
        action: entry.action,
        target: entry.target, // typeorm's insert typing does not model jsonb values
        details: (entry.details ?? null) as never,
      })
      .returning('id')
      .execute();
    return { id: String(inserted.raw[0].id) };
  }

  async list(request: ParsedRequestOf<typeof listAudit>): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    const query = this.entries.createQueryBuilder('a');
    if (request.cursor) query.andWhere('a.id < :cursor', { cursor: request.cursor });
    if (request.actor) query.andWhere('a.actor = :actor', { actor: request.actor });
    if (request.action) query.andWhere('a.action = :action', { action: request.action });
    if (request.target) query.andWhere('a.target = :target', { target: request.target });
    const rows = await query
      .orderBy('a.id', 'DESC')
      .limit(request.limit + 1)
      .getMany();
    const page = rows.slice(0, request.limit);
    return {
      items: page.map((row) => ({
        id: String(row.id),
        at: row.at.toISOString(),
        actor: row.actor,
        action: row.action,
        target: row.target,
        details: (row.details as Record<string, unknown> | null) ?? null,
      })),
      nextCursor: rows.length > request.limit ? String(page[page.length - 1].id) : null,
    };
  }
}
