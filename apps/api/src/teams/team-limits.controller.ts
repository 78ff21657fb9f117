import { Body, Controller, Get, Param, Put, UseGuards } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { getTeamPolicy, getTeamQuota, setTeamPolicy, setTeamQuota, TeamPolicy, TeamQuota } from '@muelle/contracts';
import { AuditLog } from '../audit/audit-log';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal, requireAdmin } from '../auth/principal';
import { parseRequest } from '../http/validation';

/** `PUT` bodies: the whole policy or quota (fields left out take their defaults: off, unlimited). */
export const TeamPolicyBody = TeamPolicy;
export const TeamQuotaBody = TeamQuota;

/** Admin decisions per team: host-level options members may use, and quotas (SECURITY.md §3–4). */
@Controller('v1/teams/:team')
@UseGuards(AuthGuard)
export class TeamLimitsController {
  constructor(
    private readonly bus: BusClient,
    private readonly audit: AuditLog,
  ) {}

  @Get('policy')
  policy(@CurrentPrincipal() principal: RequestPrincipal, @Param('team') team: string) {
    requireAdmin(principal, 'reading a team policy');
    return this.bus.request(getTeamPolicy, { team });
  }

  @Put('policy')
  async setPolicy(@CurrentPrincipal() principal: RequestPrincipal, @Param('team') team: string, @Body() body: unknown) {
    requireAdmin(principal, 'setting a team policy');
    const policy = parseRequest(TeamPolicyBody, body);
    const saved = await this.bus.request(setTeamPolicy, { team, policy });
    await this.audit.record(principal, 'team.policy.set', `team:${saved.teamId}`, { team: saved.teamName, policy: saved.policy });
    return saved;
  }

  @Get('quota')
  quota(@CurrentPrincipal() principal: RequestPrincipal, @Param('team') team: string) {
    requireAdmin(principal, 'reading a team quota');
    return this.bus.request(getTeamQuota, { team });
  }

  @Put('quota')
  async setQuota(@CurrentPrincipal() principal: RequestPrincipal, @Param('team') team: string, @Body() body: unknown) {
    requireAdmin(principal, 'setting a team quota');
    const quota = parseRequest(TeamQuotaBody, body);
    const saved = await this.bus.request(setTeamQuota, { team, quota });
    await this.audit.record(principal, 'team.quota.set', `team:${saved.teamId}`, { team: saved.teamName, quota: saved.quota });
    return saved;
  }
}
