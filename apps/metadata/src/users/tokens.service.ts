import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { AuthenticatedPrincipal, ConflictError, NotFoundError, ParsedRequestOf, createToken, TokenRecord, UnauthenticatedError } from '@muelle/contracts';
import { randomUUID } from 'node:crypto';
import { In, IsNull, Repository } from 'typeorm';
import { TokenEntity, UserEntity } from '../entities';
import { TeamEntity } from '../teams/team.entity';
import { hashToken, newToken } from './password';
import { UsersService } from './users.service';

/** API tokens: personal (a user's, optionally scoped) and robots (a team's, always scoped). Only SHA-256s are stored. */
@Injectable()
export class TokensService {
  constructor(
    @InjectRepository(TokenEntity) private readonly tokens: Repository<TokenEntity>,
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    @InjectRepository(TeamEntity) private readonly teams: Repository<TeamEntity>,
    private readonly accounts: UsersService,
  ) {}

  async create(input: ParsedRequestOf<typeof createToken>): Promise<{ id: string; token: string; expiresAt: string | null; name: string }> {
    if (input.userId && !(await this.users.existsBy({ id: input.userId }))) throw new NotFoundError(`user ${input.userId} not found`, { field: 'userId' });
    if (input.teamId && !(await this.teams.existsBy({ id: input.teamId }))) throw new NotFoundError(`team ${input.teamId} not found`, { field: 'teamId' });
    const { token, hash } = newToken();
    const expiresAt = input.ttlSeconds ? new Date(Date.now() + input.ttlSeconds * 1000) : null;
    const id = randomUUID();
    const inserted = await this.tokens
      .createQueryBuilder()
      .insert()
      .values({
        id,
        userId: input.userId ?? null,
        teamId: input.teamId ?? null,
        name: input.name,
        scopes: input.scopes ?? null,
        createdBy: input.createdBy ?? null,
        tokenHash: hash,
        createdAt: new Date(),
        expiresAt,
        revokedAt: null,
      })
      .orIgnore()
      .returning('id')
      .execute();
    if (!inserted.raw?.length) throw new ConflictError(`the team already has a robot named "${input.name}"`, { field: 'name' });
    return { id, token, expiresAt: expiresAt?.toISOString() ?? null, name: input.name };
  }

  /** UNAUTHENTICATED for an unknown, revoked or expired token, or one whose user is disabled. */
  async authenticate(token: string): Promise<AuthenticatedPrincipal> {
    const found = await this.tokens.findOneBy({ tokenHash: hashToken(token), revokedAt: IsNull() });
    if (!found || (found.expiresAt && found.expiresAt.getTime() <= Date.now())) throw new UnauthenticatedError('invalid, revoked or expired token');
    const scopes = { ...(found.scopes ? { scopes: found.scopes } : {}), ...(found.expiresAt ? { expiresAt: found.expiresAt.toISOString() } : {}) };
    if (found.teamId) {
      const team = await this.teams.findOneBy({ id: found.teamId });
      if (!team) throw new UnauthenticatedError('invalid, revoked or expired token');
      return { user: { id: found.id, username: robotLogin(team.name, found.name), role: 'member' }, teamId: team.id, teamName: team.name, kind: 'robot', tokenId: found.id, ...scopes };
    }
    const user = found.userId ? await this.users.findOneBy({ id: found.userId }) : null;
    if (!user || user.disabled) throw new UnauthenticatedError('invalid, revoked or expired token');
    return { ...(await this.accounts.principalOf(user)), tokenId: found.id, ...scopes };
  }

  async list(filter: { userId?: string; teamId?: string; includeRevoked: boolean }): Promise<TokenRecord[]> {
    const revoked = filter.includeRevoked ? {} : { revokedAt: IsNull() };
    const where = [];
    if (filter.userId) where.push({ userId: filter.userId, ...revoked });
    if (filter.teamId) where.push({ teamId: filter.teamId, ...revoked });
    if (!filter.userId && !filter.teamId) where.push(revoked);
    return this.records(await this.tokens.find({ where, order: { createdAt: 'ASC' } }));
  }

  async get(id: string): Promise<TokenRecord> {
    const row = await this.tokens.findOneBy({ id });
    if (!row) throw new NotFoundError(`token ${id} not found`);
    return (await this.records([row]))[0];
  }

  /** Idempotent; the first revocation is announced so every cache forgets the token at once. */
  async revoke(id: string): Promise<TokenRecord> {
    const result = await this.tokens.update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    const record = await this.get(id);
    if (result.affected) await this.accounts.announce({ reason: 'token-revoked', tokenId: id });
    return record;
  }

  private async records(rows: TokenEntity[]): Promise<TokenRecord[]> {
    const userIds = [...new Set(rows.map((r) => r.userId).filter((id): id is string => !!id))];
    const teamIds = [...new Set(rows.map((r) => r.teamId).filter((id): id is string => !!id))];
    const users = new Map((userIds.length ? await this.users.findBy({ id: In(userIds) }) : []).map((u) => [u.id, u.username]));
    const teams = new Map((teamIds.length ? await this.teams.findBy({ id: In(teamIds) }) : []).map((t) => [t.id, t.name]));
    return rows.map((row) => {
      const username = row.userId ? (users.get(row.userId) ?? null) : null;
      const teamName = row.teamId ? (teams.get(row.teamId) ?? null) : null;
      return {
        id: row.id,
        name: row.name,
        kind: row.teamId ? 'robot' : 'user',
        userId: row.userId,
        username,
        teamId: row.teamId,
        teamName,
        loginName: row.teamId ? robotLogin(teamName ?? '', row.name) : (username ?? ''),
        scopes: row.scopes,
        createdAt: row.createdAt.toISOString(),
        expiresAt: row.expiresAt?.toISOString() ?? null,
        revokedAt: row.revokedAt?.toISOString() ?? null,
      };
    });
  }
}

/** A robot's login name: `<team>+<name>` (`+` is not allowed in usernames, so it never names a person). */
export const robotLogin = (teamName: string, name: string) => `${teamName}+${name}`;
