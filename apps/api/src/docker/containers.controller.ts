import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ContainerName, InvalidArgumentError, MuelleError, NotFoundError } from '@muelle/contracts';
import { formatReference } from '@muelle/oci';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { ContainersService } from '../containers/containers.service';
import { ExecBody } from '../containers/containers.schemas';
import { parseRequest } from '../http/validation';
import { ContainerPruner } from '../containers/container-pruner';
import { ContainerNames } from '../containers/container-names';
import { ContainerProcesses } from '../containers/container-processes';
import { toInspect, toListItem, toMuelleCreate } from './containers.mapping';
import { parseDockerCreateBody } from './create-body.schema';
import { DockerErrorFilter, NotSupportedByMuelleError } from './errors';
import { encodeExecId } from './exec-ids';
import { outputEncoder } from './framing';
import { isHostPlatform } from '@muelle/images';
import { ImageCatalog } from '../images/image-catalog';
import { DockerSessions } from './sessions';
import { written } from '../containers/stream-session';
import { parseFilters } from './system.controller';

const flag = (value: string | undefined) => value === '1' || value === 'true';
const LIST_PAGE = 1000;

/** Docker's `/containers/...` routes over ContainersService (placement across hosts included). */
@Controller('docker-engine/containers')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerContainersController {
  constructor(
    private readonly containers: ContainersService,
    private readonly images: ImageCatalog,
    private readonly sessions: DockerSessions,
    private readonly pruner: ContainerPruner,
    private readonly names: ContainerNames,
    private readonly processes: ContainerProcesses,
  ) {}

  /** `docker container prune`: SpaceReclaimed is 0, since Muelle does not measure writable layers. */
  @Post('prune')
  @HttpCode(200)
  async prune(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const filters = parseFilters(query.filters);
    for (const key of Object.keys(filters)) if (key !== 'label') throw new NotSupportedByMuelleError(`the filter ${key}`, 400);
    const { removed } = await this.pruner.prune(principal, { label: filters.label ?? [] });
    return { ContainersDeleted: removed, SpaceReclaimed: 0 };
  }

  /** 404 for an image Muelle's registry lacks: the CLI then pulls it and tries again. */
  @Post('create')
  @HttpCode(201)
  async create(@CurrentPrincipal() principal: RequestPrincipal, @Body() raw: unknown, @Query() query: Record<string, string>) {
    const body = parseDockerCreateBody(raw);
    if (!body.Image) throw new InvalidArgumentError('config.Image is required');
    if (query.platform && !isHostPlatform(query.platform)) throw new NotSupportedByMuelleError(`platform ${query.platform}`, 400);
    // Docker's local store is Muelle's registry: a name of another registry is looked up there too (where `docker pull` put it).
    const local = this.images.isImageId(body.Image) ? body.Image : formatReference(this.images.localReference(body.Image));
    const name = query.name ? query.name.replace(/^\//, '') : undefined;
    // The create resolves `local` (404 naming what was typed when Muelle's registry lacks it).
    const view = await this.containers.create(principal, toMuelleCreate(body, name, local, body.Image), body.Image);
    return { Id: view.id, Warnings: [] };
  }

  @Get('json')
  async list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const filters = parseFilters(query.filters);
    for (const key of Object.keys(filters)) if (!['status', 'name', 'label', 'id', 'ancestor', 'health'].includes(key)) throw new NotSupportedByMuelleError(`the filter ${key}`, 400);
    const limit = query.limit && Number(query.limit) > 0 ? Number(query.limit) : undefined;
    const all = flag(query.all) || !!filters.status || limit !== undefined;
    const records = [];
    let cursor: string | undefined;
    do {
      const page = await this.containers.list(principal, { all, limit: LIST_PAGE, cursor, state: undefined, host: undefined, name: undefined, label: filters.label });
      records.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const items = records
      // Docker's health filter: starting, healthy, unhealthy, or none (no check, or not running).
      .filter((r) => !filters.health || filters.health.includes(r.state === 'running' ? (r.health ?? 'none') : 'none'))
      .map(toListItem)
      .filter((c) => !filters.status || filters.status.includes(c.State))
      .filter((c) => !filters.name || filters.name.some((n) => c.Names[0].slice(1).includes(n.replace(/^\//, ''))))
      .filter((c) => !filters.id || filters.id.some((id) => c.Id.startsWith(id)))
      .filter((c) => !filters.ancestor || filters.ancestor.includes(c.Image))
      .sort((a, b) => b.Created - a.Created);
    return limit ? items.slice(0, limit) : items;
  }

  @Get(':ref/json')
  async inspect(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string) {
    return toInspect(await this.noSuchContainer(ref, this.containers.inspect(principal, ref)));
  }

  @Post(':ref/start')
  async start(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: Record<string, string>, @Res() res: Response) {
    if (query.checkpoint) throw new NotSupportedByMuelleError('starting from a checkpoint', 400);
    const before = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    if (before.state === 'running') return void res.status(304).end();
    const requestedAt = new Date().toISOString();
    const view = await this.containers.start(principal, before.id);
    await this.sessions.started(principal, view, requestedAt);
    res.status(204).end();
  }

  @Post(':ref/stop')
  async stop(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: Record<string, string>, @Res() res: Response) {
    const before = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    if (before.state !== 'running' && before.state !== 'restarting') return void res.status(304).end();
    await this.containers.stop(principal, before.id, { timeoutSeconds: query.t !== undefined && query.t !== '' ? seconds(query.t) : undefined, signal: query.signal || undefined });
    res.status(204).end();
  }

  @Post(':ref/kill')
  @HttpCode(204)
  async kill(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query('signal') signal?: string) {
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    if (view.state !== 'running') throw new MuelleError('CONFLICT', `Container ${view.id} is not running`);
    await this.containers.kill(principal, view.id, signal || 'SIGKILL');
  }

  @Post(':ref/restart')
  @HttpCode(204)
  async restart(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: Record<string, string>) {
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    await this.containers.restart(principal, view.id, query.t !== undefined && query.t !== '' ? seconds(query.t) : undefined);
  }

  @Delete(':ref')
  @HttpCode(204)
  async remove(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: Record<string, string>) {
    if (flag(query.link)) throw new NotSupportedByMuelleError('removing links', 400);
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    if (!flag(query.force) && (view.state === 'running' || view.state === 'restarting'))
      throw new MuelleError('CONFLICT', `cannot remove container "/${view.name}": container is running: stop the container before removing or force remove`);
    await this.containers.remove(principal, view.id, flag(query.force), flag(query.v));
  }

  /** Headers first (the CLI returns from the POST only then, and starts the container), body at the exit. */
  @Post(':ref/wait')
  async wait(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query('condition') condition: string | undefined, @Res() res: Response) {
    const cond = condition || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw new InvalidArgumentError(`invalid condition: ${cond}`);
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    res.status(200).setHeader('Content-Type', 'application/json');
    res.flushHeaders();
    try {
      const exitCode =
        cond === 'removed' ? await this.sessions.waitRemoved(principal, view) : (await this.containers.wait(principal, view.id, cond as 'not-running' | 'next-exit')).exitCode;
      res.end(JSON.stringify({ StatusCode: exitCode, Error: null }));
    } catch (error) {
      res.end(JSON.stringify({ StatusCode: -1, Error: { Message: (error as Error).message } }));
    }
  }

  @Get(':ref/top')
  async top(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query('ps_args') psArgs: string | undefined) {
    if (psArgs) throw new NotSupportedByMuelleError(`ps options for docker top (${psArgs})`, 400);
    const { titles, processes } = await this.noSuchContainer(ref, this.processes.top(principal, ref));
    return { Titles: titles, Processes: processes };
  }

  @Post(':ref/rename')
  @HttpCode(204)
  async rename(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query('name') name: string | undefined) {
    const parsed = ContainerName.safeParse((name ?? '').replace(/^\//, ''));
    if (!parsed.success) throw new InvalidArgumentError(`invalid container name (${name ?? ''}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    await this.noSuchContainer(ref, this.names.rename(principal, ref, parsed.data));
  }

  @Post(':ref/resize')
  @HttpCode(200)
  async resize(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: Record<string, string>) {
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    const { rows, cols } = terminalSize(query);
    await this.sessions.resize(view.id, rows, cols);
  }

  /** Multiplexed framing unless the container has a TTY (the CLI decides from `Config.Tty`, not the content type). */
  @Get(':ref/logs')
  async logs(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: Record<string, string>, @Req() req: Request, @Res() res: Response) {
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    const stdout = flag(query.stdout);
    const stderr = flag(query.stderr);
    if (!stdout && !stderr) throw new InvalidArgumentError('you must choose at least one stream');
    const tail = query.tail === undefined || query.tail === '' || query.tail === 'all' ? undefined : Number(query.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new InvalidArgumentError(`invalid tail: ${query.tail}`);
    const encode = outputEncoder(view.spec.tty);
    res.status(200).setHeader('Content-Type', view.spec.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    res.flushHeaders();
    const session = await this.containers.streamLogs(
      principal,
      view.id,
      { follow: flag(query.follow), tail, timestamps: flag(query.timestamps), stdout, stderr, since: unixToIso(query.since, 'since'), until: unixToIso(query.until, 'until') },
      {
        // Credit goes back to the agent once the response took the frame (stream-session.ts).
        onOutput: (stream, data) => {
          if (res.writableEnded) return;
          const frame = encode(stream, data);
          return written((done) => res.write(frame, done));
        },
        onExit: () => res.end(),
        onError: () => res.end(),
      },
    );
    req.on('close', () => {
      session.closeStdin();
      session.close();
    });
  }

  @Post(':ref/exec')
  @HttpCode(201)
  async execCreate(
    @CurrentPrincipal() principal: RequestPrincipal,
    @Param('ref') ref: string,
    @Body() body: { Cmd?: string[] | string; Env?: string[] | null; User?: string; WorkingDir?: string; Tty?: boolean; AttachStdin?: boolean; Privileged?: boolean; DetachKeys?: string },
  ) {
    if (body?.Privileged) throw new NotSupportedByMuelleError('a privileged exec', 400);
    const cmd = Array.isArray(body?.Cmd) ? body.Cmd : body?.Cmd ? [body.Cmd] : [];
    if (!cmd.length) throw new InvalidArgumentError('No exec command specified');
    // Checked (DetachKeys included) before the container is looked up: bad input is a 400 whatever the container.
    const exec = parseRequest(ExecBody, {
      cmd,
      env: body.Env ?? [],
      user: body.User || undefined,
      workingDir: body.WorkingDir || undefined,
      tty: !!body.Tty,
      stdin: !!body.AttachStdin,
      detachKeys: body.DetachKeys ?? '',
    });
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    if (view.state !== 'running') throw new MuelleError('CONFLICT', `Container ${view.id} is not running`);
    const { id, containerId } = await this.containers.execCreate(principal, view.id, exec);
    return { Id: encodeExecId(containerId, id) };
  }

  @Get(':ref/stats')
  async stats(@CurrentPrincipal() principal: RequestPrincipal, @Param('ref') ref: string, @Query() query: Record<string, string>, @Req() req: Request, @Res() res: Response) {
    const view = await this.noSuchContainer(ref, this.containers.inspect(principal, ref));
    const streaming = query.stream === undefined || flag(query.stream);
    let previous = await this.containers.stats(principal, view.id);
    res.status(200).setHeader('Content-Type', 'application/json');
    if (!streaming) return void res.end(JSON.stringify(dockerStats(view, previous, null)));
    res.flushHeaders();
    let open = true;
    req.on('close', () => (open = false));
    while (open) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (!open) break;
      const sample = await this.containers.stats(principal, view.id).catch(() => null); // stopped or removed: the stream ends, as Docker's does
      if (!sample) break;
      res.write(`${JSON.stringify(dockerStats(view, sample, previous))}\n`);
      previous = sample;
    }
    res.end();
  }

  /** Docker's wording for an unknown container (the CLI shows it as is). */
  private async noSuchContainer<T>(ref: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof MuelleError && error.code === 'NOT_FOUND') throw new NotFoundError(`No such container: ${ref}`);
      throw error;
    }
  }
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`invalid timeout: ${value}`);
  return n < 0 ? 3600 : Math.min(n, 3600);
}

export function terminalSize(query: Record<string, string>): { rows: number; cols: number } {
  const rows = Number(query.h);
  const cols = Number(query.w);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || rows > 65535 || cols > 65535) throw new InvalidArgumentError('h and w must be positive integers');
  return { rows, cols };
}

/** `since=1700000000.5` (unix seconds, as the CLI sends) → ISO; 0 or empty = no bound. */
function unixToIso(value: string | undefined, name: 'since' | 'until'): string | undefined {
  if (!value || value === '0') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 253402300799) throw new InvalidArgumentError(`invalid ${name}: ${value}`);
  return new Date(n * 1000).toISOString();
}

type Sample = Awaited<ReturnType<ContainersService['stats']>>;

function dockerStats(view: { id: string; name: string }, sample: Sample, previous: Sample | null) {
  const cpu = (s: Sample | null) => ({
    cpu_usage: { total_usage: s?.cpuUsageNs ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: s?.systemCpuUsageNs ?? 0,
    online_cpus: s?.onlineCpus ?? 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  return {
    read: sample.at,
    preread: previous?.at ?? '0001-01-01T00:00:00Z',
    id: view.id,
    name: `/${view.name}`,
    num_procs: 0,
    pids_stats: { current: sample.pidsCurrent, limit: sample.pidsLimit ?? undefined },
    blkio_stats: {},
    cpu_stats: cpu(sample),
    precpu_stats: cpu(previous),
    memory_stats: { usage: sample.memoryUsageBytes, limit: sample.memoryLimitBytes, stats: { inactive_file: sample.memoryInactiveFileBytes } },
    networks: Object.fromEntries(
      Object.entries(sample.networks).map(([name, n]) => [name, { rx_bytes: n.rxBytes, rx_packets: n.rxPackets, rx_errors: n.rxErrors, rx_dropped: n.rxDropped, tx_bytes: n.txBytes, tx_packets: n.txPackets, tx_errors: n.txErrors, tx_dropped: n.txDropped }]),
    ),
  };
}
