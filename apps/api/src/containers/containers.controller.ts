import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { MuelleError } from '@muelle/contracts';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { parseRequest } from '../http/validation';
import { CreateContainerBody, ExecBody, KillQuery, ListContainersQuery, LogsQuery, PruneQuery, RemoveQuery, RenameQuery, StatsQuery, StopQuery, WaitQuery } from './containers.schemas';
import { ContainersService } from './containers.service';
import { ContainerPruner } from './container-pruner';
import { ContainerNames } from './container-names';
import { ContainerProcesses } from './container-processes';
import { cpuPercent } from './stats';
import { written } from './stream-session';

/** Thin HTTP shell over ContainersService: parse, call, shape the reply. */
@Controller('v1/containers')
@UseGuards(AuthGuard)
export class ContainersController {
  constructor(
    private readonly containers: ContainersService,
    private readonly pruner: ContainerPruner,
    private readonly names: ContainerNames,
    private readonly processes: ContainerProcesses,
  ) {}

  @Post()
  @HttpCode(201)
  create(@CurrentPrincipal() principal: RequestPrincipal, @Body() body: unknown) {
    return this.containers.create(principal, parseRequest(CreateContainerBody, body));
  }

  /** Removes the caller's stopped containers (`label=k[=v]` narrows it); replies with their ids. */
  @Post('prune')
  @HttpCode(200)
  prune(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    return this.pruner.prune(principal, parseRequest(PruneQuery, query, 'query'));
  }

  @Get()
  list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: unknown) {
    return this.containers.list(principal, parseRequest(ListContainersQuery, query, 'query'));
  }

  @Get(':ref')
  inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return this.containers.inspect(principal, ref);
  }

  @Post(':ref/start')
  start(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return this.containers.start(principal, ref);
  }

  @Post(':ref/stop')
  stop(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    const { timeout, signal } = parseRequest(StopQuery, query, 'query');
    return this.containers.stop(principal, ref, {
      timeoutSeconds: timeout,
      signal,
    });
  }

  @Post(':ref/kill')
  kill(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    return this.containers.kill(principal, ref, parseRequest(KillQuery, query, 'query').signal);
  }

  @Post(':ref/restart')
  restart(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    return this.containers.restart(principal, ref, parseRequest(StopQuery, query, 'query').timeout);
  }

  @Delete(':ref')
  remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    const { force, volumes } = parseRequest(RemoveQuery, query, 'query');
    return this.containers.remove(principal, ref, force, volumes);
  }

  @Get(':ref/top')
  top(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return this.processes.top(principal, ref);
  }

  @Post(':ref/rename')
  rename(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    return this.names.rename(principal, ref, parseRequest(RenameQuery, query, 'query').name);
  }

  @Post(':ref/wait')
  wait(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown) {
    return this.containers.wait(principal, ref, parseRequest(WaitQuery, query, 'query').condition);
  }

  /** NDJSON `{stream, data}` lines; with `follow` the response stays open until the container stops. */
  @Get(':ref/logs')
  async logs(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    const options = parseRequest(LogsQuery, query, 'query');
    if (!options.follow) {
      const { lines, truncated } = await this.containers.logLines(principal, ref, options);
      res.status(200).type('application/x-ndjson');
      if (truncated) res.setHeader('X-Muelle-Truncated', 'true');
      res.end(
        lines
          .map((l) =>
            JSON.stringify({
              stream: l.stream,
              data: `${options.timestamps ? `${l.time} ` : ''}${l.line.endsWith('\n') ? l.line : `${l.line}\n`}`,
            }),
          )
          .join('\n') + (lines.length ? '\n' : ''),
      );
      return;
    }
    let started = false;
    function begin() {
      if (started) return;
      started = true;
      res.status(200).type('application/x-ndjson');
      res.setHeader('Cache-Control', 'no-cache');
      res.flushHeaders();
    }
    const session = await this.containers.streamLogs(principal, ref, options, {
      // Credit goes back to the agent once the response took the line (stream-session.ts).
      onOutput: (stream, data) => {
        begin();
        if (res.writableEnded) return;
        const line = JSON.stringify({ stream, data: data.toString('utf8') }) + '\n';
        return written((done) => res.write(line, done));
      },
      onExit: () => {
        begin();
        res.end();
      },
      onError: (error) => {
        begin();
        res.end(JSON.stringify({ error: error.toWire() }) + '\n');
      },
    });
    begin();
    req.on('close', () => {
      session.closeStdin();
      session.close();
    });
  }

  /** One sample (with cpu% from two readings 500 ms apart), or NDJSON every second with `stream=true`. */
  @Get(':ref/stats')
  async stats(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: unknown, @Req() req: Request, @Res() res: Response) {
    const { stream } = parseRequest(StatsQuery, query, 'query');
    let previous = await this.containers.stats(principal, ref);
    if (!stream) {
      await new Promise((r) => setTimeout(r, 500));
      const current = await this.containers.stats(principal, ref);
      res.status(200).json({ ...current, cpuPercent: cpuPercent(previous, current) });
      return;
    }
    res.status(200).type('application/x-ndjson');
    res.flushHeaders();
    let open = true;
    req.on('close', () => (open = false));
    while (open) {
      await new Promise((r) => setTimeout(r, 1_000));
      if (!open) break;
      try {
        const current = await this.containers.stats(principal, ref);
        res.write(
          JSON.stringify({
            ...current,
            cpuPercent: cpuPercent(previous, current),
          }) + '\n',
        );
        previous = current;
      } catch (error) {
        res.end(
          JSON.stringify({
            error: error instanceof MuelleError ? error.toWire() : { code: 'INTERNAL', message: 'stats failed' },
          }) + '\n',
        );
        return;
      }
    }
    res.end();
  }

  /** Registers a command; run it over the WebSocket `GET /v1/containers/:ref/exec/:execId/ws`. */
  @Post(':ref/exec')
  @HttpCode(201)
  exec(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Body() body: unknown) {
    return this.containers.execCreate(principal, ref, parseRequest(ExecBody, body));
  }

  @Get(':ref/exec/:execId')
  execInspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Param('execId') execId: string) {
    return this.containers.execInspect(principal, ref, execId);
  }
}
