import { Body, Controller, Get, HttpCode, Param, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { UnavailableError } from '@muelle/contracts';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { ContainersService } from '../containers/containers.service';
import { terminalSize } from './containers.controller';
import { DockerErrorFilter, NotSupportedByMuelleError } from './errors';
import { decodeExecId } from './exec-ids';
import { DockerSessions } from './sessions';

/** `/exec/{id}/…` except the hijacked start (DockerHijack serves that). */
@Controller('docker-engine/exec')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerExecController {
  constructor(
    private readonly containers: ContainersService,
    private readonly sessions: DockerSessions,
    private readonly bus: BusClient,
  ) {}

  /** Without `Upgrade` only a detached start makes sense (`docker exec -d`). */
  @Post(':id/start')
  @HttpCode(200)
  async start(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string, @Body() body: { Detach?: boolean }) {
    if (!body?.Detach) throw new NotSupportedByMuelleError('an attached exec start without "Upgrade: tcp"', 400);
    const { containerId, execId } = decodeExecId(id);
    await this.containers.execInspect(principal, containerId, execId);
    const record = await this.containers.get(principal, containerId, 'exec');
    if (!record.hostId) throw new UnavailableError(`container ${record.name} is not placed on any host`);
    // Without a stream id the agent runs the exec detached.
    await this.bus.request(this.containers.agent(record.hostId).execStart, { execId });
  }

  @Post(':id/resize')
  @HttpCode(200)
  async resize(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string, @Query() query: Record<string, string>) {
    const { containerId, execId } = decodeExecId(id);
    const { rows, cols } = terminalSize(query);
    await this.containers.execInspect(principal, containerId, execId);
    await this.sessions.resize(id, rows, cols);
  }

  @Get(':id/json')
  async inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('id') id: string) {
    const { containerId, execId } = decodeExecId(id);
    const exec = await this.containers.execInspect(principal, containerId, execId);
    const [entrypoint = '', ...args] = exec.cmd;
    return {
      ID: id,
      Running: exec.running,
      ExitCode: exec.exitCode,
      ProcessConfig: { tty: exec.tty, entrypoint, arguments: args, privileged: false, user: '' },
      OpenStdin: exec.attachStdin,
      OpenStderr: true,
      OpenStdout: true,
      CanRemove: false,
      ContainerID: exec.containerId,
      DetachKeys: exec.detachKeys,
      Pid: exec.pid ?? 0,
    };
  }
}
