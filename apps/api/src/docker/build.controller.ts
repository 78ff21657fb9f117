import { Controller, Inject, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { BusClient, Frame, newStreamId, StreamEnd } from '@muelle/bus';
import { BuildProgressEvent, BuildResult, describeBuildProgress, InvalidArgumentError, MuelleError, startBuild } from '@muelle/contracts';
import { formatReference } from '@muelle/oci';
import { BlobStore, createBlobStore } from '@muelle/storage';
import type { Request, Response } from 'express';
import { randomBytes, randomUUID } from 'node:crypto';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';
import { DockerErrorFilter, NotSupportedByMuelleError } from './errors';
import { DockerImageStore, untaggedRepository } from './image-store';
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
 * `docker build` (classic builder API): the context tar is stored where the builder reads
 * contexts, the builder builds and pushes to Muelle's registry, its progress becomes Docker's
 * `{"stream": …}` lines, and the image id (config digest) comes in `aux`.
 */
@Controller('docker-engine/build')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerBuildController {
  private contexts: Promise<BlobStore> | null = null;

  constructor(
    private readonly bus: BusClient,
    private readonly images: DockerImageStore,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Post()
  async build(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string | string[]>, @Req() req: Request, @Res() res: Response) {
    const single = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v[v.length - 1] : v])) as Record<string, string>;
    refuseUnsupported(single);
    const typedTags = query.t === undefined ? [] : Array.isArray(query.t) ? query.t : [query.t];
    const tags = typedTags.map((t) => formatReference(this.images.localReference(t)));
    const untagged = !tags.length;
    // Without -t the image still needs a home in the registry to be run or tagged later (shown as <none>).
    if (untagged) tags.push(formatReference({ registry: this.images.registry, repository: untaggedRepository(principal), tag: `build-${Date.now()}-${randomBytes(3).toString('hex')}` }));
    const buildArgs = jsonQuery<Record<string, string | null>>(single.buildargs, 'buildargs', {});
    const registryCredentials: Record<string, { username: string; password: string }> = { [this.images.registry]: principal.registryCredentials };
    const configs = decodeRegistryHeader(req.headers['x-registry-config']);
    if (configs && typeof configs === 'object')
      for (const [server, auth] of Object.entries(configs)) {
        const login = loginOf(auth);
        const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
        if (login && host !== this.images.registry) registryCredentials[host] = login;
      }

    const store = await (this.contexts ??= createBlobStore({ driver: 'filesystem', root: this.config.MUELLE_BUILD_CONTEXTS_DIR }));
    const key = `contexts/docker-${randomUUID()}.tar`;
    await store.write(key, await requireTarContext(req));
    const stream = new JsonStream(res);
    const quiet = flag(single.q);
    const say = (text: string) => !quiet && stream.write({ stream: text });
    let end: StreamEnd | undefined;
    try {
      const outcome = new Promise<BuildResult>((resolve, reject) => {
        const id = newStreamId();
        end = new StreamEnd(this.bus.streams(), id, 'client', (type, payload) => {
          const text = payload.toString('utf8');
          if (type === Frame.Stdout) {
            const event = BuildProgressEvent.safeParse(JSON.parse(text));
            if (event.success) say(describeBuildProgress(event.data));
          } else if (type === Frame.Exit) resolve(JSON.parse(text));
          else if (type === Frame.Error) {
            const wire = JSON.parse(text);
            reject(new MuelleError(wire.code ?? 'INTERNAL', wire.message ?? 'build failed', wire.details));
          }
        });
        this.bus
          .request(startBuild, {
            context: { kind: 'blob', key },
            dockerfile: single.dockerfile || 'Dockerfile',
            tags,
            buildArgs: Object.fromEntries(Object.entries(buildArgs).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
            target: single.target || undefined,
            noCache: flag(single.nocache),
            network: single.networkmode === 'host' ? 'host' : 'none',
            registryCredentials,
            progressStreamId: id,
          })
          .catch(reject);
      });
      const result = await outcome;
      stream.write({ aux: { ID: result.configDigest } });
      say(`Successfully built ${short(result.configDigest)}\n`);
      if (!untagged) for (const tag of typedTags) say(`Successfully tagged ${tag.includes(':') && !tag.endsWith(']') && /:[^/]+$/.test(tag) ? tag : `${tag}:latest`}\n`);
      stream.end();
    } catch (error) {
      stream.fail(error);
    } finally {
      end?.close();
      await store.delete(key).catch(() => undefined);
    }
  }
}

