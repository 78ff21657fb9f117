import { Body, Controller, Get, HttpCode, Post, Query, UseGuards } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { createTeam, createUser, listAudit, listTeams, Role, TeamName, Username } from '@muelle/contracts';
import { z } from 'zod';
import { AuditLog } from '../audit/audit-log';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal, requireAdmin } from '../auth/principal';
import { parseRequest } from '../http/validation';

export const CreateTeamBody = z.object({ name: TeamName });
export const CreateUserBody = z.object({
  username: Username,
  password: z.string().min(8, 'at least 8 characters').max(1024),
  role: Role.default('member'),
  teamId: z.string().uuid().nullable().default(null),
});
// The bus request's fields, read from a query string (numbers arrive as text).
export const ListAuditQuery = listAudit.request.extend({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

/** Tenancy administration (admins) and who-am-I (everybody). */
@Controller('v1')
@UseGuards(AuthGuard)
export class TeamsController {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
  ) {}

  @Get('me')
  me(@CurrentPrincipal() principal: RequestPrincipal) {
    return {
      user: principal.user,
      teamId: principal.teamId,
      teamName: principal.teamName,
    };
  }

  @Get('teams')
  async teams(@CurrentPrincipal() principal: RequestPrincipal) {
    requireAdmin(principal, 'listing teams');
    return this.bus.request(listTeams, {});
  }

  @Post('teams')
  @HttpCode(201)
  async createTeam(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    requireAdmin(principal, 'creating a team');
    const team = await this.bus.request(createTeam, parseRequest(CreateTeamBody, body));
    await this.audit.record(principal, 'team.create', `team:${team.id}`, {
      name: team.name,
    });
    return team;
  }

  @Post('users')
  @HttpCode(201)
  async createUser(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    requireAdmin(principal, 'creating a user');
    const created = await this.bus.request(createUser, parseRequest(CreateUserBody, body));
    await this.audit.record(principal, 'user.create', `user:${created.user.id}`, {
      username: created.user.username,
      role: created.user.role,
      teamId: created.teamId,
    });
    return created;
  }

  @Get('audit')
  async auditLog(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    requireAdmin(principal, 'reading the audit log');
    return this.bus.request(listAudit, parseRequest(ListAuditQuery, query, 'query'));
  }
}
