import { Controller, Delete, Get, HttpCode, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { InvalidArgumentError, MuelleError } from '@muelle/contracts';
import { isHostPlatform, parseImageName, platformOfConfig } from '@muelle/images';
import { formatReference } from '@muelle/oci';
import type { Request, Response } from 'express';
import { AuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { RequestPrincipal } from '../auth/principal';
import { CopyEvent, ImagesService } from '../images/images.service';
import { imageHasLabel, ImageUsage } from '../images/image-usage';
import { DockerErrorFilter, NotSupportedByMuelleError } from './errors';
import { CatalogImage, ImageCatalog, UNTAGGED_REPOSITORY } from '../images/image-catalog';
import { toDockerImage } from './images.mapping';
import { decodeRegistryHeader, JsonStream, loginOf, short } from './json-stream';
import { parseFilters } from './system.controller';

const ZERO_TIME = '0001-01-01T00:00:00Z';
const flag = (value: string | undefined) => value === '1' || value === 'true';

/** `images/<name with / and :>/<action>` arrives as one wildcard; the action is the last segment. */
function splitImagePath(param: string | string[]): { name: string; action: string } {
  const segments = Array.isArray(param) ? param : param.split('/');
  if (segments.length < 2) return { name: segments.join('/'), action: '' };
  return { name: segments.slice(0, -1).join('/'), action: segments[segments.length - 1] };
}

/** Docker's `/images/...` routes: Muelle's registry is the engine's image store. */
@Controller('docker-engine/images')
@UseGuards(AuthGuard)
@UseFilters(DockerErrorFilter)
export class DockerImagesController {
  constructor(
    private readonly store: ImageCatalog,
    private readonly images: ImagesService,
    private readonly usage: ImageUsage,
  ) {}

  @Get('json')
  async list(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const filters = parseFilters(query.filters);
    for (const key of Object.keys(filters)) if (!['reference', 'dangling', 'label'].includes(key)) throw new NotSupportedByMuelleError(`the images filter ${key}`, 400);
    const wanted = (image: CatalogImage) => {
      if (filters.dangling?.includes('true') && image.repoTags.length) return false;
      if (filters.dangling?.includes('false') && !image.repoTags.length) return false;
      if (filters.reference && !image.repoTags.some((tag) => filters.reference.some((pattern) => matchesReference(tag, pattern)))) return false;
      if (filters.label && !filters.label.every((label) => imageHasLabel(image, label))) return false;
      return true;
    };
    const all = await this.store.list(principal);
    return all.filter(wanted).map((image) => toDockerImage(image));
  }

  /** `docker pull`: copies the image into Muelle's registry; JSON progress. */
  @Post('create')
  async create(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>, @Req() req: Request, @Res() res: Response) {
    if (query.fromSrc) throw new NotSupportedByMuelleError('docker import (fromSrc)');
    if (!query.fromImage) throw new InvalidArgumentError('fromImage is required');
    if (query.platform && !isHostPlatform(query.platform)) throw new NotSupportedByMuelleError(`platform ${query.platform}`, 400);
    const tag = query.tag || (query.fromImage.includes('@') || /:[^/]+$/.test(query.fromImage) ? '' : 'latest');
    const typed = tag ? `${query.fromImage}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : query.fromImage;
    const named = parseImageName(typed, this.store.registry, 'fromImage');
    let source = formatReference(named);
    let target = this.store.localReference(source);
    // A name of Muelle's own registry (Docker Hub's included): nothing to copy, only the spelling to find (busybox ≡ library/busybox).
    if (named.registry === this.store.registry) {
      target = await this.store.findLocal(principal, source);
      source = formatReference(target);
    }
    const stream = new JsonStream(res);
    const familiar = this.store.familiar(target);
    stream.write({ status: `Pulling from ${this.store.familiar({ registry: target.registry, repository: target.repository })}`, id: target.tag ?? target.digest });
    try {
      const result = await this.images.pull(
        principal,
        { image: source, as: target.tag ? formatReference(target) : undefined, hosts: [], sourceAuth: loginOf(decodeRegistryHeader(req.headers['x-registry-auth'])) },
        (event) => stream.write(pullProgress(event)),
      );
      stream.write({ status: `Digest: ${result.digest}` });
      stream.write({ status: `Status: Downloaded newer image for ${familiar}` });
      stream.end();
    } catch (error) {
      if (error instanceof MuelleError && error.code === 'NOT_FOUND') stream.fail(new MuelleError('NOT_FOUND', `manifest for ${typed} not found: ${error.message}`));
      else stream.fail(error);
    }
  }

  /** `docker image prune [-a] [--filter label=…]`: the caller's unused images (dangling ones unless `dangling=false`). */
  @Post('prune')
  @HttpCode(200)
  async prune(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>) {
    const filters = parseFilters(query.filters);
    for (const key of Object.keys(filters)) if (!['dangling', 'label'].includes(key)) throw new NotSupportedByMuelleError(`the image prune filter ${key}`, 400);
    const dangling = filters.dangling ?? ['true'];
    if (dangling.length !== 1 || !['true', 'false', '1', '0'].includes(dangling[0] as string)) throw new InvalidArgumentError(`the dangling filter takes true or false, not ${dangling.join(',')}`);
    const { deleted, spaceReclaimed } = await this.usage.prune(principal, { all: !flag(dangling[0]), label: filters.label ?? [] });
    return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: spaceReclaimed };
  }

  @Get('*path')
  async inspect(@CurrentPrincipal() principal: RequestPrincipal, @Req() req: Request) {
    const { name, action } = splitImagePath(req.params.path);
    if (action === 'history') throw new NotSupportedByMuelleError('image history');
    if (action !== 'json') throw new NotSupportedByMuelleError(`GET /images/${name}/${action}`);
    const image = await this.store.resolve(principal, name);
    const config = image.config.config ?? {};
    return {
      Id: image.id,
      RepoTags: image.repoTags,
      RepoDigests: image.repoDigests,
      Parent: '',
      Comment: '',
      Created: image.config.created ?? ZERO_TIME,
      DockerVersion: '',
      Author: image.config.author ?? '',
      Config: {
        Hostname: '',
        User: config.User ?? '',
        Env: config.Env ?? null,
        Cmd: config.Cmd ?? null,
        Entrypoint: config.Entrypoint ?? null,
        WorkingDir: config.WorkingDir ?? '',
        ExposedPorts: config.ExposedPorts ?? null,
        Labels: config.Labels ?? null,
        StopSignal: config.StopSignal,
      },
      Architecture: platformOfConfig(image.config).architecture,
      Os: platformOfConfig(image.config).os,
      Size: image.size,
      VirtualSize: image.size,
      GraphDriver: { Name: 'overlay2', Data: null },
      RootFS: { Type: 'layers', Layers: image.config.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: ZERO_TIME },
    };
  }

  @Post('*path')
  async act(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>, @Req() req: Request, @Res() res: Response) {
    const { name, action } = splitImagePath(req.params.path);
    if (action === 'tag') return this.tag(principal, name, query, res);
    if (action === 'push') return this.push(principal, name, query, req, res);
    throw new NotSupportedByMuelleError(`POST /images/${name}${action ? `/${action}` : ''}`);
  }

  @Delete('*path')
  async remove(@CurrentPrincipal() principal: RequestPrincipal, @Query() query: Record<string, string>, @Req() req: Request) {
    const segments = req.params.path as unknown as string[] | string;
    const name = Array.isArray(segments) ? segments.join('/') : segments;
    // Docker names of other registries live in Muelle's registry under the same path.
    const local = this.store.isImageId(name) ? name : formatReference(await this.store.findLocal(principal, name));
    const result = await this.images.remove(principal, local, { hosts: true, force: flag(query.force) });
    const answer: Array<Record<string, string>> = result.untagged
      .map((ref) => this.store.familiar(this.store.localReference(ref)))
      .filter((familiar) => !familiar.includes('@') && !familiar.includes(`/${UNTAGGED_REPOSITORY}:`) && !familiar.startsWith(`${UNTAGGED_REPOSITORY}:`))
      .map((familiar) => ({ Untagged: familiar.replace(/^library\//, '') }));
    if (result.id) answer.push({ Deleted: result.id });
    return answer;
  }

  /** `docker tag SOURCE TARGET` → 201; the target names Muelle's registry whatever host it mentions. */
  private async tag(principal: RequestPrincipal, name: string, query: Record<string, string>, res: Response) {
    if (!query.repo) throw new InvalidArgumentError('repo is required');
    const image = await this.store.resolve(principal, name);
    const target = await this.store.findLocal(principal, `${query.repo}:${query.tag || 'latest'}`);
    const source = formatReference({ registry: this.store.registry, repository: image.repository, ...(image.reference.startsWith('sha256:') ? { digest: image.reference } : { tag: image.reference }) });
    await this.images.tag(principal, source, formatReference(target));
    res.status(201).end();
  }

  /** `docker push NAME[:TAG]`: to the registry NAME mentions (for Muelle's own it checks the image is complete). */
  private async push(principal: RequestPrincipal, name: string, query: Record<string, string>, req: Request, res: Response) {
    const typed = `${name}:${query.tag || 'latest'}`;
    const named = parseImageName(typed, this.store.registry, 'name');
    const local = await this.store.findLocal(principal, typed);
    if (!(await this.store.exists(principal, local))) throw new MuelleError('NOT_FOUND', `An image does not exist locally with the tag: ${name}`);
    const stream = new JsonStream(res);
    stream.write({ status: `The push refers to repository [${name}]` });
    try {
      // Muelle's own registry: push (= verify) the spelling that exists; elsewhere ImagesService reads the same repository locally.
      const image = named.registry === this.store.registry ? formatReference(local) : formatReference(named);
      const result = await this.images.push(principal, { image, targetAuth: loginOf(decodeRegistryHeader(req.headers['x-registry-auth'])) }, (event) => stream.write(pushProgress(event)));
      const size = await this.store.manifestSize(principal, local).catch(() => 0); // only shown in docker's last line: the push itself succeeded
      const tag = query.tag || 'latest';
      stream.write({ status: `${tag}: digest: ${result.digest} size: ${size}` });
      stream.write({ progressDetail: {}, aux: { Tag: tag, Digest: result.digest, Size: size } });
      stream.end();
    } catch (error) {
      stream.fail(error);
    }
  }
}

function pullProgress(event: CopyEvent): Record<string, unknown> {
  if (!('digest' in event)) return { status: event.status === 'prefetching' ? `Fetching onto ${event.host}` : `Fetched onto ${event.host}` };
  const id = short(event.digest);
  if (event.status === 'copying') return { status: 'Downloading', id, progressDetail: { current: 0, total: event.size } };
  if (event.status === 'copied') return { status: 'Pull complete', id, progressDetail: {} };
  return { status: 'Already exists', id, progressDetail: {} };
}

function pushProgress(event: CopyEvent): Record<string, unknown> {
  if (!('digest' in event)) return { status: event.status };
  const id = short(event.digest);
  if (event.status === 'copying') return { status: 'Pushing', id, progressDetail: { current: 0, total: event.size } };
  if (event.status === 'copied') return { status: 'Pushed', id, progressDetail: {} };
  return { status: 'Layer already exists', id, progressDetail: {} };
}

/** Docker's `reference` filter: shell-like `*` over `name[:tag]`. */
function matchesReference(tag: string, pattern: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return regex.test(tag) || regex.test(tag.replace(/:[^:/]+$/, ''));
}
