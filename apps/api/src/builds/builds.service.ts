import { Inject, Injectable } from '@nestjs/common';
import { BusClient, Frame, newStreamId, StreamEnd } from '@muelle/bus';
import { BuildProgressEvent, BuildResult, fromWire, InternalError, InvalidArgumentError, isWireError, PermissionDeniedError, Principal, startBuild } from '@muelle/contracts';
import { formatReference } from '@muelle/oci';
import { LOGGER } from '@muelle/service-kit';
import { BlobStore, createBlobStore } from '@muelle/storage';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/audit-log';
import { isAdmin, RequestPrincipal, requireWritableRepository } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';
import { EventHub } from '../events/event-hub';
import { ImagesService } from '../images/images.service';
import { BuildQuery } from './builds.schemas';

/**
 * The one decision on a build's network, for every door (/v1 and the Docker API): RUN steps get no
 * network unless an admin asks for the host's (`--network host` reaches the host's own services).
 */
export function buildNetworkFor(principal: Principal, requested: string | undefined): 'none' | 'host' {
  const mode = requested || 'default';
  if (mode === 'default' || mode === 'none') return 'none';
  if (mode === 'host') {
    if (!isAdmin(principal)) throw new PermissionDeniedError('--network host on builds needs the admin role', { field: 'networkmode' });
    return 'host';
  }
  throw new InvalidArgumentError(`build network ${mode} is not supported (none or host)`, { field: 'networkmode' });
}

/**
 * Builds: the context tar goes into the builder's context store, the builder builds and pushes
 * the tags to the platform registry (as the caller), progress comes back over a bus stream.
 */
@Injectable()
export class BuildsService {
  private contexts?: Promise<BlobStore>;

  constructor(
    private readonly bus: BusClient,
    private readonly images: ImagesService,
    private readonly audit: AuditLog,
    private readonly hub: EventHub,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Opened on the first build, so an api that never builds creates no directory. */
  private contextStore(): Promise<BlobStore> {
    this.contexts ??= createBlobStore({ driver: 'filesystem', root: this.config.MUELLE_BUILD_CONTEXTS_DIR });
    return this.contexts;
  }

  async build(principal: RequestPrincipal, context: Readable, options: BuildQuery, onProgress: (event: BuildProgressEvent) => void): Promise<BuildResult> {
    const tags = options.t.map((tag, index) => {
      const ref = this.images.parse(tag, `query.t.${index}`);
      requireWritableRepository(principal, ref.repository);
      return formatReference(ref);
    });
    const buildArgs = Object.fromEntries(options.buildarg.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
    const key = `build-contexts/${randomUUID()}.tar`;
    const store = await this.contextStore();
    await store.write(key, context);
    const streamId = newStreamId();
    try {
      const outcome = new Promise<BuildResult>((resolve, reject) => {
        const end = new StreamEnd(this.bus.streams(), streamId, 'client', (type, payload) => {
          const value = parse(payload);
          if (type === Frame.Stdout && value) onProgress(value as BuildProgressEvent);
          else if (type === Frame.Exit) {
            end.close();
            resolve(value as BuildResult);
          } else if (type === Frame.Error) {
            end.close();
            reject(isWireError(value) ? fromWire(value) : new InternalError('build failed'));
          }
        });
        this.bus
          .request(startBuild, {
            context: { kind: 'blob', key },
            dockerfile: options.dockerfile,
            tags,
            buildArgs,
            target: options.target,
            noCache: options.nocache,
            registryCredentials: { [this.config.MUELLE_REGISTRY_ADDRESS]: principal.registryCredentials },
            progressStreamId: streamId,
          })
          .catch((error) => {
            end.close();
            reject(error);
          });
      });
      const result = await outcome;
      await this.audit.record(principal, 'image.build', `build:${result.buildId}`, { tags, digest: result.digest });
      for (const pushed of result.pushed)
        this.hub.publish({ type: 'image', action: 'build', id: pushed.reference, teamId: principal.teamId, attributes: { digest: pushed.digest } });
      return result;
    } finally {
      await store.delete(key).catch((error: unknown) => this.logger.warn({ err: error, key }, 'build context not deleted'));
    }
  }
}

function parse(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

