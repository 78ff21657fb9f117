import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { BusClient } from '@muelle/bus';
import { accountsChanged, AuthenticatedPrincipal, NotFoundError, PayloadOf, UnauthenticatedError, UserSummary } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { In, Repository } from 'typeorm';
import { UserEntity } from '../entities';
import { TeamEntity } from '../teams/team.entity';
import { LoginThrottle } from './login-throttle';
import { DUMMY_HASH, generatePassword, hashPassword, needsRehash, verifyPassword } from './password';
import { VerifiedPasswords } from './verified-passwords';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Users: passwords (throttled, slow hashes), listing, disabling; every change that voids credentials is announced. */
@Injectable()
export class UsersService {
  /** Passwords that matched their stored hash lately (keyed by an HMAC of both; see VerifiedPasswords). */
  private readonly verified = new VerifiedPasswords();

  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    @InjectRepository(TeamEntity) private readonly teams: Repository<TeamEntity>,
    private readonly throttle: LoginThrottle,
    private readonly bus: BusClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * On a new database, creates the first admin from MUELLE_ADMIN_USER/MUELLE_ADMIN_PASSWORD,
   * or with a generated password printed once. Safe under concurrent replicas (unique username).
   */
  async ensureFirstAdmin(username: string, password: string | undefined): Promise<void> {
    if ((await this.users.count()) > 0) return;
    const secret = password ?? generatePassword();
    const inserted = await this.users
      .createQueryBuilder()
      .insert()
      .values({ id: randomUUID(), username, passwordHash: await hashPassword(secret), role: 'admin', teamId: null, disabled: false, createdAt: new Date() })
      .orIgnore()
      .returning('id')
      .execute();
    // Another replica may have won the race: only the one whose row went in reports it.
    if (!inserted.raw?.length) return;
    this.logger.info({ username }, 'first admin account created');
    if (!password) {
      // Printed once, on purpose outside the JSON log, so an operator sees it on first start.
      process.stdout.write(`\nMuelle: first admin account "${username}" created with password: ${secret}\n(set MUELLE_ADMIN_PASSWORD to choose it; this is shown only once)\n\n`);
    }
  }

  /** Password login, throttled per account and address (LoginThrottle). */
  async authenticate(username: string, password: string, clientAddress?: string): Promise<AuthenticatedPrincipal> {
    const user = await this.checkPassword(username, password, clientAddress);
    if (user.disabled) throw new UnauthenticatedError(`account ${user.username} is disabled`);
    return this.principalOf(user);
  }

  async principalOf(user: UserEntity): Promise<AuthenticatedPrincipal> {
    const team = user.teamId ? await this.teams.findOneBy({ id: user.teamId }) : null;
    return { user: { id: user.id, username: user.username, role: user.role }, teamId: team?.id ?? null, teamName: team?.name ?? null, kind: 'user' };
  }

  async list(teamId?: string): Promise<UserSummary[]> {
    const rows = await this.users.find({ where: teamId ? { teamId } : {}, order: { username: 'ASC' } });
    const teamIds = [...new Set(rows.map((r) => r.teamId).filter((id): id is string => !!id))];
    const teams = new Map((teamIds.length ? await this.teams.findBy({ id: In(teamIds) }) : []).map((t) => [t.id, t.name]));
    return rows.map((row) => toSummary(row, row.teamId ? (teams.get(row.teamId) ?? null) : null));
  }

  /** By id or username. */
  async get(ref: string): Promise<UserSummary> {
    const user = await this.find(ref);
    const team = user.teamId ? await this.teams.findOneBy({ id: user.teamId }) : null;
    return toSummary(user, team?.name ?? null);
  }

  async setDisabled(id: string, disabled: boolean): Promise<UserSummary> {
    const result = await this.users.update({ id }, { disabled });
    if (!result.affected) throw new NotFoundError(`user ${id} not found`);
    await this.announce({ reason: disabled ? 'user-disabled' : 'user-enabled', userId: id });
    return this.get(id);
  }

  /** With `currentPassword`: a user changing its own (checked and throttled like a login). Without: an admin's reset. */
  async setPassword(id: string, newPassword: string, currentPassword?: string, clientAddress?: string): Promise<UserSummary> {
    const user = await this.find(id);
    if (currentPassword !== undefined) await this.checkPassword(user.username, currentPassword, clientAddress);
    await this.users.update({ id }, { passwordHash: await hashPassword(newPassword) });
    await this.announce({ reason: 'password-changed', userId: id });
    return this.get(id);
  }

  /** Tells every api and registry replica to forget cached credentials; a lost event still expires with the cache. */
  async announce(change: PayloadOf<typeof accountsChanged>): Promise<void> {
    await this.bus.emit(accountsChanged, change).catch((error: unknown) => this.logger.warn({ err: error, change }, 'accounts event lost; caches expire within 10 s'));
  }

  private async find(ref: string): Promise<UserEntity> {
    const user = UUID.test(ref) ? await this.users.findOneBy({ id: ref }) : await this.users.findOneBy({ username: ref });
    if (!user) throw new NotFoundError(`user ${ref} not found`, { field: 'user' });
    return user;
  }

  private async checkPassword(username: string, password: string, clientAddress?: string): Promise<UserEntity> {
    await this.throttle.check(username, clientAddress);
    const user = await this.users.findOneBy({ username });
    // Verify even for unknown users, so timing does not reveal which usernames exist. A password
    // that matched this very stored hash a moment ago skips the hash (VerifiedPasswords).
    const ok = (user !== null && this.verified.has(password, user.passwordHash)) || (await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH));
    if (!user || !ok) {
      await this.throttle.recordFailure(username, clientAddress);
      throw new UnauthenticatedError('invalid username or password');
    }
    await this.throttle.recordSuccess(username, clientAddress);
    if (needsRehash(user.passwordHash)) {
      // Hashed with older, cheaper parameters: store today's while we hold the password (the new
      // hash is not remembered: the next login verifies it once).
      await this.users.update({ id: user.id, passwordHash: user.passwordHash }, { passwordHash: await hashPassword(password) });
    } else {
      this.verified.remember(password, user.passwordHash);
    }
    return user;
  }
}

function toSummary(row: UserEntity, teamName: string | null): UserSummary {
  return { id: row.id, username: row.username, role: row.role, teamId: row.teamId, teamName, disabled: row.disabled, createdAt: row.createdAt.toISOString() };
}
