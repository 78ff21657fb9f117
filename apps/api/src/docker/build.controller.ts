import { Controller, HttpCode, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { describeBuildProgress, InvalidArgumentError } from '@muelle/contracts';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { BuildsService } from '../builds/builds.service';
import { BuildCacheService, pruneOptionsOf } from '../builds/build-cache.service';
import { parseFilters } from './system.controller';
import { nullIfEmpty } from './build-cache.mapping';
import { DockerErrorFilter, NotSupportedByMuelleError } from './errors';
import { ImageCatalog, untaggedBuildTag } from '../images/image-catalog';
import { decodeRegistryHeader, JsonStream, loginOf, short } from './json-stream';
import { requireTarContext } from '../http/tar-context';

const flag = (value: string | undefined) => value === '1' || value === 'true';

function jsonQuery<T>(value: string | undefined, name: string, fallback: T): T {
  if (value === undefined || value === '') return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new InvalidArgumentError(`${name} is not valid JSON`);
  }
}

/** Query options of the classic builder Muelle cannot honour: refused unless left at their default. */
function refuseUnsupported(query: Record<string, string>) {
  if (query.version === '2') throw new NotSupportedByMuelleError('BuildKit (version=2); use DOCKER_BUILDKIT=0', 400);
  if (query.remote) throw new NotSupportedByMuelleError('building from a remote context', 400);
  if (flag(query.squash)) throw new NotSupportedByMuelleError('--squash', 400);
  if (query.platform && !/^linux(\/amd64)?$/.test(query.platform)) throw new NotSupportedByMuelleError(`platform ${query.platform}`, 400);
  if (query.extrahosts) throw new NotSupportedByMuelleError('--add-host', 400);
  if (query.outputs) throw new NotSupportedByMuelleError('--output', 400);
  if (Object.keys(jsonQuery<Record<string, string>>(query.labels, 'labels', {})).length) throw new NotSupportedByMuelleError('--label on builds', 400);
  if (jsonQuery<string[]>(query.cachefrom, 'cachefrom', []).length) throw new NotSupportedByMuelleError('--cache-from', 400);
  const network = query.networkmode || 'default';
  if (!['default', 'none', 'host'].includes(network)) throw new NotSupportedByMuelleError(`build network ${network}`, 400);
}

/**
 * `docker build` (classic builder API): query options mapped onto the one build flow
 * (`BuildsService`), its progress turned into Docker's `{"stream": …}` lines, and the image id
 * (config digest) sent in `aux`.
 */
@Controller('docker-engine/build')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerBuildController {
  constructor(
    private readonly builds: BuildsService,
    private readonly images: ImageCatalog,
    private readonly buildCache: BuildCacheService,
  ) {}

  /** `docker builder prune [-a] [--keep-storage N] [--filter until=24h]`: the caller's team's cache (admins: all). */
  @Post('prune')
  @HttpCode(200)
  async prune(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const keepStorage = query['keep-storage'] ? Number(query['keep-storage']) : 0;
    const options = pruneOptionsOf(flag(query.all), keepStorage, parseFilters(query.filters));
    const { deleted, spaceReclaimed } = await this.buildCache.prune(principal, options);
    return { CachesDeleted: nullIfEmpty(deleted), SpaceReclaimed: spaceReclaimed };
  }

  @Post()
  async build(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string | string[]>, @Req() req: Request, @Res() res: Response) {
    const single = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v[v.length - 1] : v])) as Record<string, string>;
    refuseUnsupported(single);
    const typedTags = query.t === undefined ? [] : Array.isArray(query.t) ? query.t : [query.t];
    const tags = typedTags.map((t) => this.images.localReference(t));
    const untagged = !tags.length;
    // Without -t the image still needs a home in the registry to be run or tagged later (shown as <none>).
    if (untagged) tags.push(untaggedBuildTag(principal, this.images.registry));
    const buildArgs = jsonQuery<Record<string, string | null>>(single.buildargs, 'buildargs', {});
    const otherRegistries: Record<string, { username: string; password: string }> = {};
    const configs = decodeRegistryHeader(req.headers['x-registry-config']);
    if (configs && typeof configs === 'object')
      for (const [server, auth] of Object.entries(configs)) {
        const login = loginOf(auth);
        const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
        if (login && host !== this.images.registry) otherRegistries[host] = login;
      }

    // Checked before the progress stream starts, so a context that is not a tar is a plain 400.
    const context = await requireTarContext(req);
    const stream = new JsonStream(res);
    const quiet = flag(single.q);
    const say = (text: string) => !quiet && stream.write({ stream: text });
    try {
      const request = {
        tags,
        dockerfile: single.dockerfile || 'Dockerfile',
        buildArgs: Object.fromEntries(Object.entries(buildArgs).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
        target: single.target || undefined,
        noCache: flag(single.nocache),
        network: single.networkmode === 'host' ? ('host' as const) : ('none' as const),
        otherRegistries,
      };
      const result = await this.builds.build(principal, context, request, (event) => say(describeBuildProgress(event)));
      stream.write({ aux: { ID: result.configDigest } });
      // dockerd's quiet answer is the image id alone, which `docker build -q` prints.
      if (quiet) stream.write({ stream: `${result.configDigest}\n` });
      say(`Successfully built ${short(result.configDigest)}\n`);
      if (!untagged) for (const tag of typedTags) say(`Successfully tagged ${tag.includes(':') && !tag.endsWith(']') && /:[^/]+$/.test(tag) ? tag : `${tag}:latest`}\n`);
      stream.end();
    } catch (error) {
      stream.fail(error);
    }
  }
}
