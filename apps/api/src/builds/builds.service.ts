import { Inject, Injectable } from '@nestjs/common';
import { BusClient, creditOf, CreditedSender, Frame, isPeerSilent, newStreamId, sendBytes, StreamEnd } from '@muelle/bus';
import { BuildId, BuildProgressEvent, BuildRecord, BuildResult, failLostBuild, fromWire, getBuildRecord, InternalError, isWireError, listBuildRecords, NotFoundError, startBuild, UnavailableError } from '@muelle/contracts';
import { formatReference, type ImageReference } from '@muelle/oci';
import { LOGGER } from '@muelle/service-kit';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/audit-log';
import { authorize, RequestPrincipal, requireAdmin, teamScope } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';
import { EventHub } from '../events/event-hub';
import { RepositoryAccess } from '../repositories/repository-access';

/** One build as both front doors (`/v1/builds`, the Docker API's `/build`) describe it. */
export interface BuildRequest {
  /** Where to push; references without a registry host are already resolved to Muelle's. */
  tags: ImageReference[];
  dockerfile: string;
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  network: 'none' | 'host';
  /** Credentials the client gave for registries other than Muelle's (docker's `X-Registry-Config`). */
  otherRegistries?: Record<string, { username: string; password: string }>;
}

/**
 * The one build flow: checks the caller may push every tag, asks the builder to build, streams the
 * context tar to it over the bus (flow-controlled: api and builder share no disk), relays
 * progress, then audits the build and publishes an event per pushed tag.
 */
@Injectable()
export class BuildsService {
  constructor(
    private readonly bus: BusClient,
    private readonly access: RepositoryAccess,
    private readonly audit: AuditLog,
    private readonly hub: EventHub,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async build(principal: RequestPrincipal, context: Readable, request: BuildRequest, onProgress: (event: BuildProgressEvent) => void): Promise<BuildResult> {
    for (const tag of request.tags) await this.access.require(principal, 'push', tag.repository, { notFound: `no such repository: ${tag.repository}` });
    if (request.network === 'host') requireAdmin(principal, 'a build with --network host');
    const tags = request.tags.map((tag) => formatReference(tag));
    const registryCredentials = { ...request.otherRegistries, [this.config.MUELLE_REGISTRY_ADDRESS]: principal.registryCredentials };
    const streamId = newStreamId();
    let end: StreamEnd | undefined;
    const credit = new CreditedSender((type, payload) => end?.send(type, payload));
    let accepted: { buildId: string; builderId?: string } | undefined;
    try {
      const result = await new Promise<BuildResult>((resolve, reject) => {
        const settle = (outcome: () => void) => {
          credit.release();
          outcome();
        };
        end = new StreamEnd(this.bus.streams(), streamId, 'client', (type, payload) => {
          if (type === Frame.Credit) credit.grant(creditOf(payload));
          else if (type === Frame.Stdout) {
            const event = BuildProgressEvent.safeParse(parseJson(payload));
            if (event.success) onProgress(event.data);
          } else if (type === Frame.Exit) settle(() => resolve(BuildResult.parse(parseJson(payload))));
          else if (type === Frame.Error) {
            const wire = parseJson(payload);
            if (isPeerSilent(wire)) settle(() => reject(this.builderLost(accepted)));
            else settle(() => reject(isWireError(wire) ? fromWire(wire) : new InternalError('build failed')));
          }
        });
        this.bus
          .request(startBuild, {
            context: { kind: 'stream' },
            requestedBy: { username: principal.user.username, teamId: principal.teamId },
            dockerfile: request.dockerfile,
            tags,
            buildArgs: request.buildArgs,
            target: request.target,
            noCache: request.noCache,
            network: request.network,
            registryCredentials,
            progressStreamId: streamId,
          })
          .then((reply) => {
            accepted = reply;
            // The builder took the build: from now on its silence means it is gone (stream-liveness.ts).
            end?.expectPeer();
          })
          .catch((error: unknown) => settle(() => reject(error)));
        sendBytes(credit, context).catch((error: Error) => {
          // The builder ended the session (its outcome settles the build), or the client's upload broke.
          if (credit.isReleased) return;
          end?.send(Frame.Error, JSON.stringify({ code: 'INVALID_ARGUMENT', message: 'the build context upload broke' }));
          this.logger.info({ err: error }, 'build context upload broke');
          settle(() => reject(error));
        });
      });
      await this.audit.record(principal, 'image.build', `build:${result.buildId}`, { tags, digest: result.digest });
      for (const pushed of result.pushed)
        this.hub.publish({ type: 'image', action: 'build', id: pushed.reference, teamId: principal.teamId, attributes: { digest: pushed.digest } });
      return result;
    } finally {
      end?.close();
    }
  }

  /**
   * The builder fell silent mid-build (killed, host cut off): the client is told at once (503), and
   * the build's record is marked failed so `/v1/builds` does not show it running until that builder
   * comes back. Metadata being unreachable too only costs the record (logged).
   */
  private builderLost(accepted: { buildId: string; builderId?: string } | undefined): UnavailableError {
    const message = `builder ${accepted?.builderId ?? '(unknown)'} stopped answering during the build`;
    if (accepted) {
      this.bus.request(failLostBuild, { id: accepted.buildId, message }).then(
        ({ failed }) => this.logger.warn({ buildId: accepted.buildId, builderId: accepted.builderId, recordFailed: failed }, message),
        (error: unknown) => this.logger.error({ err: error, buildId: accepted.buildId }, 'the lost build could not be marked failed in metadata'),
      );
    }
    return new UnavailableError(message);
  }

  /** Build records from metadata: the caller's team's, another team's answer 404. */
  async list(principal: RequestPrincipal, query: { limit: number; cursor?: string }): Promise<{ items: BuildRecord[]; nextCursor: string | null }> {
    return this.bus.request(listBuildRecords, { ...query, teamId: teamScope(principal) });
  }

  async get(principal: RequestPrincipal, id: string): Promise<BuildRecord> {
    if (!BuildId.safeParse(id).success) throw new NotFoundError(`no such build: ${id}`);
    const record = await this.bus.request(getBuildRecord, { id, teamId: teamScope(principal) });
    authorize(principal, 'read', { kind: 'build', teamId: record.teamId }, { notFound: `no such build: ${id}` });
    return record;
  }
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    // A frame that is not JSON is ignored (progress) or reported as a failed build (outcome).
    return undefined;
  }
}
