import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { NotFoundError, UnauthenticatedError, UserRecord } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { TokenEntity, UserEntity } from '../entities';
import { generatePassword, hashPassword, hashToken, newToken, verifyPassword } from './password';

@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    @InjectRepository(TokenEntity) private readonly tokens: Repository<TokenEntity>,
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

  async authenticate(username: string, password: string): Promise<UserRecord> {
    const user = await this.users.findOneBy({ username });
    // Verify even for unknown users, so timing does not reveal which usernames exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAA');
    if (!user || !ok || user.disabled) throw new UnauthenticatedError('invalid username or password');
    return toRecord(user);
  }

  async createToken(userId: string, name: string, ttlSeconds?: number) {
    const user = await this.users.findOneBy({ id: userId });
    if (!user) throw new NotFoundError(`user ${userId} not found`);
    const { token, hash } = newToken();
    const expiresAt = ttlSeconds ? new Date(Date.now() + ttlSeconds * 1000) : null;
    const id = randomUUID();
    await this.tokens.insert({ id, userId, name, tokenHash: hash, createdAt: new Date(), expiresAt, revokedAt: null });
    return { id, token, expiresAt: expiresAt?.toISOString() ?? null };
  }

  async authenticateToken(token: string): Promise<UserRecord> {
    const found = await this.tokens.findOneBy({ tokenHash: hashToken(token), revokedAt: IsNull() });
    if (!found || (found.expiresAt && found.expiresAt.getTime() < Date.now())) throw new UnauthenticatedError('invalid or expired token');
    const user = await this.users.findOneBy({ id: found.userId });
    if (!user || user.disabled) throw new UnauthenticatedError('invalid or expired token');
    return toRecord(user);
  }
}

function toRecord(user: UserEntity): UserRecord {
  return { id: user.id, username: user.username, role: user.role };
}
