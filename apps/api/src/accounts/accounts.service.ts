import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import {
  createToken,
  getToken,
  getUser,
  InvalidArgumentError,
  listTeams,
  listTokens,
  listUsers,
  NotFoundError,
  PermissionDeniedError,
  revokeToken,
  setPassword,
  setUserDisabled,
  TokenRecord,
  TokenScope,
  UserSummary,
} from '@muelle/contracts';
import { formatScope, parseScope, ScopeSyntaxError, scopeStaysInTeam } from '@muelle/authz';
import { AuditLog } from '../audit/audit-log';
import { authorize, RequestPrincipal, requireAdmin, teamScope } from '../auth/principal';

export interface NewToken {
  name: string;
  ttlSeconds?: number;
  scopes?: string[];
  /** Team name or id: makes a robot token owned by that team. */
  team?: string;
}

/**
 * Account management behind /v1 (users, passwords, tokens, robots): who may do what to which
 * account, then metadata does it, then the audit log records it. Scoped and robot tokens manage
 * no accounts at all: a narrowed credential must not mint a wider one.
 */
@Injectable()
export class AccountsService {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
  ) {}

  /** Admins: every user (or one team's); members: their team (or just themselves without one). */
  async listUsers(principal: RequestPrincipal, teamId?: string): Promise<UserSummary[]> {
    requireUnscoped(principal, 'listing users');
    if (teamScope(principal) === undefined) return (await this.bus.request(listUsers, teamId ? { teamId } : {})).items;
    if (!principal.teamId) return [await this.bus.request(getUser, { ref: principal.user.id })];
    if (teamId && teamId !== principal.teamId) throw new NotFoundError(`team ${teamId} not found`);
    return (await this.bus.request(listUsers, { teamId: principal.teamId })).items;
  }

  /** A user another team's member may not see answers 404 (its existence does not leak). */
  async getUser(principal: RequestPrincipal, ref: string): Promise<UserSummary> {
    requireUnscoped(principal, 'reading users');
    const user = await this.bus.request(getUser, { ref });
    authorize(principal, 'read', { kind: 'user', userId: user.id, teamId: user.teamId }, { notFound: `user ${ref} not found` });
    return user;
  }

  async setDisabled(principal: RequestPrincipal, ref: string, disabled: boolean): Promise<UserSummary> {
    requireUnscoped(principal, disabled ? 'disabling a user' : 'enabling a user');
    requireAdmin(principal, disabled ? 'disabling a user' : 'enabling a user');
    const user = await this.bus.request(getUser, { ref });
    if (disabled && user.id === principal.user.id) throw new InvalidArgumentError('an admin cannot disable its own account', { field: 'user' });
    const changed = await this.bus.request(setUserDisabled, { id: user.id, disabled });
    await this.audit.record(principal, disabled ? 'user.disable' : 'user.enable', `user:${user.id}`, { username: user.username });
    return changed;
  }

  /** One's own password (the current one is required), or an admin's reset of another user's. */
  async setPassword(principal: RequestPrincipal, ref: string, body: { password: string; currentPassword?: string }, clientAddress?: string): Promise<UserSummary> {
    requireUnscoped(principal, 'changing a password');
    const user = await this.getUser(principal, ref);
    const own = user.id === principal.user.id;
    if (own && body.currentPassword === undefined) throw new InvalidArgumentError('changing your own password needs your current one (currentPassword)', { field: 'currentPassword' });
    if (!own) requireAdmin(principal, "resetting another user's password");
    const changed = await this.bus.request(setPassword, {
      id: user.id,
      newPassword: body.password,
      ...(own ? { currentPassword: body.currentPassword } : {}),
      ...(clientAddress ? { clientAddress: clientAddress.slice(0, 100) } : {}),
    });
    await this.audit.record(principal, own ? 'user.password-change' : 'user.password-reset', `user:${user.id}`, { username: user.username });
    return changed;
  }

  /** Admins: every live token; others: their own and their team's robots. */
  async listTokens(principal: RequestPrincipal): Promise<TokenRecord[]> {
    requireUnscoped(principal, 'listing tokens');
    if (teamScope(principal) === undefined) return (await this.bus.request(listTokens, {})).items;
    return (await this.bus.request(listTokens, { userId: principal.user.id, ...(principal.teamId ? { teamId: principal.teamId } : {}) })).items;
  }

  async createToken(principal: RequestPrincipal, input: NewToken) {
    requireUnscoped(principal, 'creating a token');
    const scopes = input.scopes?.map(parseWireScope);
    if (!input.team) {
      const created = await this.bus.request(createToken, { userId: principal.user.id, name: input.name, ttlSeconds: input.ttlSeconds, scopes, createdBy: principal.user.id });
      await this.audit.record(principal, 'token.create', `token:${created.id}`, { name: input.name, kind: 'user', expiresAt: created.expiresAt, scopes: scopes?.map(formatScope) });
      return { ...created, kind: 'user' as const, user: principal.user, team: principal.teamName, loginName: principal.user.username };
    }
    if (!scopes?.length) throw new InvalidArgumentError('a robot token needs at least one scope, e.g. repository:<team>/*:pull', { field: 'scopes' });
    const team = await this.teamOf(input.team);
    // Members make robots for their own team only (another team answers 404), with no more than their own rights.
    if (!team) throw new NotFoundError(`team ${input.team} not found`, { field: 'team' });
    authorize(principal, 'create', { kind: 'token', teamId: team.id }, { notFound: `team ${input.team} not found`, what: 'creating a robot token', field: 'team' });
    const outside = teamScope(principal) === undefined ? undefined : scopes.find((s) => !scopeStaysInTeam(s, team.name));
    if (outside) throw new PermissionDeniedError(`a member may only give a robot repositories under "${team.name}/" (scope ${formatScope(outside)})`, { field: 'scopes', rule: 'robot-scope' });
    const created = await this.bus.request(createToken, { teamId: team.id, name: input.name, ttlSeconds: input.ttlSeconds, scopes, createdBy: principal.user.id });
    await this.audit.record(principal, 'token.create', `token:${created.id}`, { name: input.name, kind: 'robot', team: team.name, expiresAt: created.expiresAt, scopes: scopes.map(formatScope) });
    return { ...created, kind: 'robot' as const, team: team.name, loginName: `${team.name}+${input.name}` };
  }

  /** Own tokens, one's team's robots (members), or any (admins); someone else's answers 404. */
  async revokeToken(principal: RequestPrincipal, id: string): Promise<TokenRecord> {
    requireUnscoped(principal, 'revoking a token');
    const token = await this.bus.request(getToken, { id });
    // A personal token belongs to its owner's team; only its owner (or an admin) sees it.
    const mine = token.userId === principal.user.id;
    const teamId = token.kind === 'robot' ? token.teamId : mine ? principal.teamId : null;
    if (token.kind !== 'robot' && !mine && teamScope(principal) !== undefined) throw new NotFoundError(`token ${id} not found`);
    authorize(principal, 'delete', { kind: 'token', teamId, ...(token.userId ? { ownerId: token.userId } : {}) }, { notFound: `token ${id} not found` });
    const revoked = await this.bus.request(revokeToken, { id });
    await this.audit.record(principal, 'token.revoke', `token:${id}`, { name: token.name, kind: token.kind, owner: token.loginName });
    return revoked;
  }

  private async teamOf(ref: string) {
    const { items } = await this.bus.request(listTeams, {});
    return items.find((t) => t.name === ref || t.id === ref);
  }
}

function requireUnscoped(principal: RequestPrincipal, what: string): void {
  if (principal.scopes || principal.kind === 'robot') throw new PermissionDeniedError(`${what} needs a user's own credentials, not a scoped or robot token`, { rule: 'scoped-token' });
}

function parseWireScope(text: string): TokenScope {
  try {
    return parseScope(text);
  } catch (error) {
    if (error instanceof ScopeSyntaxError) throw new InvalidArgumentError(error.message, { field: 'scopes' });
    throw error;
  }
}
