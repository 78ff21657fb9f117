import { All, Body, Controller, Get, Head, HttpCode, Inject, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { hostPlatform } from '@muelle/images';
import { InvalidArgumentError } from '@muelle/contracts';
import { LOGGER, SERVICE_INFO, ServiceInfo } from '@muelle/service-kit';
import type { Logger } from 'pino';
import type { Request, Response } from 'express';
import * as os from 'node:os';
import { AuthGuard, clientAddressOf, CurrentPrincipal } from '../auth/auth.guard';
import { Authenticator } from '../auth/authenticator';
import { RequestPrincipal } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';
import { PlatformEvent } from '../events/event-hub';
import { EventFeed } from '../events/event-feed';
import { ImageUsage } from '../images/image-usage';
import { ContainersService } from '../containers/containers.service';
import { toListItem } from './containers.mapping';
import { toDockerImage } from './images.mapping';
import { eventFilters, parseEventTime } from '../events/event-filter';
import { Cluster } from '../hosts/cluster';
import { boundedWriter } from '../http/client-backlog';
import { VolumesService } from '../volumes/volumes.service';
import { toDockerVolume } from './volumes.mapping';
import { DockerErrorFilter, NotSupportedByMuelleError } from './errors';
import { BuildCacheService } from '../builds/build-cache.service';
import { nullIfEmpty, toDockerBuildCache } from './build-cache.mapping';
import { DOCKER_API_VERSION, DOCKER_MIN_API_VERSION } from './paths';

/** Headers the CLI reads from `_ping` to negotiate (API version, OS, classic builder). */
function pingHeaders(res: Response) {
  res.setHeader('Api-Version', DOCKER_API_VERSION);
  res.setHeader('Ostype', 'linux');
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Builder-Version', '1');
  res.setHeader('Swarm', 'inactive');
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
}

/** Unauthenticated: the CLI pings before anything else. */
@Controller('docker-engine')
@UseFilters(DockerErrorFilter)
export class DockerPingController {
  constructor(@Inject(SERVICE_INFO) private readonly info: ServiceInfo) {}

  @Get('_ping')
  ping(@Res() res: Response) {
    pingHeaders(res);
    res.type('text/plain').send('OK');
  }

  @Head('_ping')
  pingHead(@Res() res: Response) {
    pingHeaders(res);
    res.type('text/plain').status(200).end();
  }

  @Get('version')
  version(@Res({ passthrough: true }) res: Response) {
    pingHeaders(res);
    const version = this.info.version;
    return {
      Platform: { Name: 'Muelle' },
      Components: [
        {
          Name: 'Engine',
          Version: version,
          Details: { ApiVersion: DOCKER_API_VERSION, MinAPIVersion: DOCKER_MIN_API_VERSION, Os: 'linux', Arch: dockerArch(), Experimental: 'false' },
        },
      ],
      Version: version,
      ApiVersion: DOCKER_API_VERSION,
      MinAPIVersion: DOCKER_MIN_API_VERSION,
      GitCommit: 'muelle',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: dockerArch(),
      KernelVersion: os.release(),
      Experimental: false,
      BuildTime: '',
    };
  }
}

const dockerArch = () => hostPlatform().architecture;

@Controller('docker-engine')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerSystemController {
  constructor(
    private readonly cluster: Cluster,
    private readonly feed: EventFeed,
    private readonly imageUsage: ImageUsage,
    private readonly containers: ContainersService,
    private readonly authenticator: Authenticator,
    @Inject(SERVICE_INFO) private readonly info: ServiceInfo,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly volumes: VolumesService,
    private readonly buildCache: BuildCacheService,
  ) {}

  /** Cluster-wide numbers: CPUs and memory of all ready hosts; `Name` says it is Muelle. */
  @Get('info')
  async systemInfo() {
    const hosts = await this.cluster.hosts();
    const ready = hosts.filter((h) => h.state === 'ready');
    const sum = (pick: (h: (typeof ready)[number]) => number) => ready.reduce((total, h) => total + (Number(pick(h)) || 0), 0);
    return {
      ID: 'muelle',
      Name: 'muelle',
      ServerVersion: this.info.version,
      OperatingSystem: 'Muelle',
      OSType: 'linux',
      Architecture: os.arch() === 'x64' ? 'x86_64' : os.arch(),
      KernelVersion: os.release(),
      NCPU: sum((h) => h.capacity.cpus),
      MemTotal: sum((h) => h.capacity.memoryBytes),
      Containers: 0,
      ContainersRunning: 0,
      ContainersPaused: 0,
      ContainersStopped: 0,
      Images: 0,
      Driver: 'overlay2',
      DockerRootDir: '',
      IndexServerAddress: `http://${this.config.MUELLE_REGISTRY_ADDRESS}/`,
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'] },
      Swarm: { LocalNodeState: 'inactive' },
      Labels: [`muelle.hosts=${hosts.length}`, `muelle.hosts.ready=${ready.length}`],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Log: ['json-file'] },
      CgroupDriver: 'cgroupfs',
      LoggingDriver: 'json-file',
      Warnings: [],
    };
  }

  /**
   * `docker system df`: the images the caller may read (with how many of its containers use each),
   * its containers with their sizes as their hosts measure them (SizeRw: the writable layer,
   * SizeRootFs: that plus the image's layers; left out when 0, as dockerd does, or when the host
   * does not answer), its volumes with how many containers mount each, and its team's build cache
   * (admins: all of it) with BuilderSize, its total. Volume sizes are not measured: size -1
   * (Docker's "not measured").
   */
  @Get('system/df')
  async diskUsage(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string | string[]>) {
    const types = [query.type ?? []].flat();
    for (const type of types) if (!['container', 'image', 'volume', 'build-cache'].includes(type)) throw new InvalidArgumentError(`type: ${type} is not container, image, volume or build-cache`);
    const { images, containers } = await this.imageUsage.usage(principal);
    const wants = (type: string) => !types.length || types.includes(type);
    const buildCache = wants('build-cache') ? await this.buildCache.list(principal) : [];
    return {
      LayersSize: images.reduce((sum, { image }) => sum + image.size, 0),
      Images: wants('image') ? images.map(({ image, containers: count }) => toDockerImage(image, count)) : [],
      Containers: wants('container') ? await Promise.all(containers.map(async (record) => ({ ...toListItem(record), ...dockerSizes(await this.containers.diskUsage(record)) }))) : [],
      // Size -1 (dockerd's "not measured") only when the volume's host does not answer.
      Volumes: wants('volume') ? await Promise.all((await this.volumes.list(principal)).map(async (v) => ({ ...toDockerVolume(v), UsageData: { Size: (await this.volumes.diskUsage(v)) ?? -1, RefCount: v.usedBy.length } }))) : [],
      BuildCache: nullIfEmpty(buildCache.map(toDockerBuildCache)),
      BuilderSize: buildCache.reduce((sum, entry) => sum + entry.size, 0),
    };
  }

  /** `docker login` asks the engine to check credentials: for Muelle's registry, Muelle checks them. */
  @Post('auth')
  @HttpCode(200)
  async auth(@Body() body: { username?: string; password?: string; serveraddress?: string }, @Req() req: Request) {
    if (!body?.username || typeof body.password !== 'string') throw new InvalidArgumentError('username and password are required');
    const server = (body.serveraddress ?? '').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (server && server !== this.config.MUELLE_REGISTRY_ADDRESS)
      throw new NotSupportedByMuelleError(`checking credentials for ${server} (only Muelle's registry ${this.config.MUELLE_REGISTRY_ADDRESS})`, 400);
    await this.authenticator.checkPassword(body.username, body.password, clientAddressOf(req));
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }

  /**
   * `docker events`: container and image events as Docker's messages — with `since` the history
   * kept in metadata first, then live ones; with `until` the stream ends then.
   */
  @Get('events')
  async events(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>, @Req() req: Request, @Res() res: Response) {
    const filters = eventFilters(parseFilters(query.filters), (what) => new NotSupportedByMuelleError(what, 400));
    const window = {
      since: query.since ? parseEventTime(query.since, 'since') : undefined,
      until: query.until ? parseEventTime(query.until, 'until') : undefined,
      // Muelle's own host events are not Docker's.
      filters: { ...filters, type: filters.type ?? ['container', 'image'] },
    };
    res.status(200).setHeader('Content-Type', 'application/json');
    res.flushHeaders();
    let stop = () => undefined as void;
    // A client past the backlog is let go (Docker's event stream has no error message of its own).
    const write = boundedWriter<string>(
      res,
      (text) => res.write(text),
      () => {
        stop();
        res.end();
      },
    );
    req.on('close', () => stop());
    try {
      stop = await this.feed.open(principal, window, { event: (event) => write(`${JSON.stringify(dockerEvent(event))}\n`), end: () => void (!res.writableEnded && res.end()) });
    } catch (error) {
      // Headers are out: Docker's stream ends; the reason goes to our log.
      this.logger.warn({ err: error }, 'docker events: reading the history failed');
      res.end();
    }
    if (req.destroyed) stop();
  }
}

/** Docker's `SizeRw`/`SizeRootFs` (Go `omitempty`: a 0 is left out). */
export function dockerSizes(sizes: { sizeRw: number; sizeRootFs: number } | undefined) {
  return { ...(sizes?.sizeRw ? { SizeRw: sizes.sizeRw } : {}), ...(sizes?.sizeRootFs ? { SizeRootFs: sizes.sizeRootFs } : {}) };
}

/** A platform event as Docker's JSON message (labels flat among the attributes, as Docker's). */
export function dockerEvent(event: PlatformEvent) {
  const time = Date.parse(event.at);
  const attributes = Object.fromEntries(
    Object.entries({ ...event.labels, ...event.attributes })
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
  return {
    status: event.action,
    id: event.id,
    from: attributes.image,
    Type: event.type,
    Action: event.action,
    Actor: { ID: event.id, Attributes: attributes },
    scope: 'local',
    time: Math.floor(time / 1000),
    timeNano: time * 1_000_000,
  };
}

/** Docker's `filters` query: JSON `{"key": ["v"]}` or the old `{"key": {"v": true}}`. */
export function parseFilters(raw: string | undefined): Record<string, string[]> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError(`invalid filters: ${raw}`);
  }
  if (!parsed || typeof parsed !== 'object') throw new InvalidArgumentError(`invalid filters: ${raw}`);
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) out[key] = value.map(String);
    else if (value && typeof value === 'object')
      out[key] = Object.entries(value)
        .filter(([, on]) => on)
        .map(([v]) => v);
    else throw new InvalidArgumentError(`invalid filter ${key}`);
  }
  return out;
}

/** Everything else under the Docker API: a clear refusal, never a hang. */
@Controller('docker-engine')
@UseFilters(DockerErrorFilter)
export class DockerUnsupportedController {
  @All('*path')
  unsupported(@Req() req: Request) {
    const path = req.originalUrl.split('?')[0].replace(/^\/docker-engine/, '');
    throw new NotSupportedByMuelleError(`${req.method} ${path}`);
  }

  @All()
  root(@Req() req: Request) {
    throw new NotSupportedByMuelleError(`${req.method} /`);
  }
}
