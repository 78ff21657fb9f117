import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import {
  agentContracts,
  AgentContracts,
  ConflictError,
  ContainerRecord,
  ContainerRuntimeInfo,
  ContainerSpec,
  ContainerStats,
  deleteContainerRecord,
  ExecInfo,
  getContainer,
  HostRecord,
  listContainers,
  listServices,
  MuelleError,
  NotFoundError,
  recordContainer,
  SERVICE_ID_LABEL,
  UnavailableError,
} from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AuditLog } from '../audit/audit-log';
import type { Action } from '@muelle/authz';
import { authorize, RequestPrincipal, teamScope } from '../auth/principal';
import { RegistryTokens } from '../auth/registry-tokens.service';
import { NetworksService } from '../networks/networks.service';
import { VolumesService } from '../volumes/volumes.service';
import { ImageCatalog } from '../images/image-catalog';
import { RepositoryAccess } from '../repositories/repository-access';
import { API_CONFIG, ApiConfig } from '../config';
import { EventHub } from '../events/event-hub';
import { Cluster } from '../hosts/cluster';
import { explainNoPlacement } from '../scheduling/scheduler';
import { Placer } from '../scheduling/placer';
import { checkAgainstMesh } from '../services/mesh-ports';
import { ContainerAdmission } from './container-admission';
import { CreateContainerBody, ExecBody, ListContainersQuery, LogsQuery } from './containers.schemas';
import { openStreamSession, SessionHandlers, StreamSession } from './stream-session';

/** Who created a container: the reconciler acts for them when it has to pull the image elsewhere. */
export const OWNER_LABEL = 'muelle.owner-id';
const INSPECT_TIMEOUT_MS = 3_000;

/** A container as the API shows it: the record, where it runs, and what its agent says (null when unreachable). */
export interface ContainerView extends ContainerRecord {
  hostAddress: string | null;
  runtime: Pick<ContainerRuntimeInfo, 'pid' | 'ipAddress' | 'macAddress' | 'ports' | 'error' | 'stoppedByUser' | 'state' | 'exitCode' | 'startedAt' | 'finishedAt' | 'health'> | null;
}

/**
 * Everything a client can do to containers, independent of the HTTP shape: the /v1 controllers
 * and the Docker Engine API layer both call these. Authorization is applied here (team scope).
 */
@Injectable()
export class ContainersService {
  private readonly agents = new Map<string, AgentContracts>();

  constructor(
    private readonly bus: BusClient,
    private readonly cluster: Cluster,
    private readonly placer: Placer,
    private readonly audit: AuditLog,
    private readonly hub: EventHub,
    private readonly repositories: RepositoryAccess,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly admission: ContainerAdmission,
    readonly registryTokens: RegistryTokens,
    private readonly catalog: ImageCatalog,
    private readonly networks: NetworksService,
    private readonly volumes: VolumesService,
  ) {}

  agent(hostId: string): AgentContracts {
    let contracts = this.agents.get(hostId);
    if (!contracts) this.agents.set(hostId, (contracts = agentContracts(hostId)));
    return contracts;
  }

  async create(principal: RequestPrincipal, body: CreateContainerBody, typedImage = body.image): Promise<ContainerView> {
    authorize(principal, 'create', { kind: 'container', teamId: principal.teamId }, { notFound: 'no such team' });
    const { name, start, networks, volumes: mounts, ...rest } = body;
    const { reference: image, volumePaths } = await this.catalog.runnable(principal, rest.image, typedImage);
    // `-v /data` and the image's VOLUMEs: new anonymous volumes, placed as named ones not made yet.
    const { volumes: resolved, anonymous } = this.volumes.withAnonymous(mounts, volumePaths);
    // Team policy (host-level options) and defaults; the quota is checked when metadata records it.
    const admitted: ContainerSpec = await this.admission.admit(principal, {
      ...rest,
      volumes: resolved,
      networks: await this.networks.endpointsFor(principal, networks, rest.network),
      image,
      labels: { ...rest.labels, [OWNER_LABEL]: principal.user.id },
    });
    // Decided here, before any host is asked: a host that already caches the digest must not run it for someone who may not pull it.
    await this.repositories.requireImagePull(principal, admitted.image, 'body.image');
    if (admitted.ports.some((p) => p.hostPort)) checkAgainstMesh(admitted.ports, (await this.bus.request(listServices, {})).items, admitted.labels[SERVICE_ID_LABEL] ?? null);
    // Named volumes that exist pin the container to their host; the others are made where it lands.
    const volumes = await this.volumes.placementFor(principal, admitted, anonymous);
    const spec = volumes.spec;
    const id = randomBytes(32).toString('hex');
    const placed = await this.placer.place(spec, (host, placementGeneration) =>
      this.bus
        .request(recordContainer, { id, name, teamId: principal.teamId, hostId: host.id, spec, placementGeneration })
        .catch((error: unknown) => this.admission.refusedByQuota(principal, 'container.create.denied', `team:${principal.teamId}`, error)),
    );
    if (placed.host === null) {
      const why = volumes.hostId ? this.volumes.explainRefusal(volumes, placed.rejections) : explainNoPlacement(placed.rejections);
      throw new ConflictError(why, { rejections: placed.rejections });
    }
    const { host, result: record } = placed;
    let runtime: ContainerRuntimeInfo;
    try {
      await this.volumes.recordOnHost(principal, host.id, volumes.missing, volumes.anonymous);
      runtime = await this.bus.request(this.agent(host.id).create, {
        id,
        name: record.name,
        // As recorded: with the addresses metadata gave it on its networks.
        spec: record.spec,
        registryAuth: await this.registryTokens.pullAuth(principal, spec.image),
        teamId: principal.teamId,
      });
    } catch (error) {
      await this.bus
        .request(deleteContainerRecord, { id })
        .catch((cleanupError) => this.logger.warn({ err: cleanupError, container: id }, 'record of a container its agent refused not deleted'));
      throw error;
    }
    await this.audit.record(principal, 'container.create', `container:${id}`, {
      name: record.name,
      image: spec.image,
      hostId: host.id,
    });
    this.publish(record, 'create');
    if (start) runtime = await this.startOn(principal, record);
    return this.view({ ...record, state: runtime.state }, host, runtime);
  }

  /** Another team's container answers 404 (metadata filters by team); `action` refused on a visible one 403. */
  async get(principal: RequestPrincipal, ref: string, action: Action = 'read'): Promise<ContainerRecord> {
    const record = await this.bus.request(getContainer, {
      ref,
      teamId: teamScope(principal),
    });
    authorize(principal, action, { kind: 'container', teamId: record.teamId }, { notFound: `no such container: ${ref}` });
    return record;
  }

  async inspect(principal: RequestPrincipal, ref: string): Promise<ContainerView> {
    const record = await this.get(principal, ref);
    return this.view(record, await this.hostOf(record), await this.runtimeOf(record));
  }

  async list(principal: RequestPrincipal, query: z.output<typeof ListContainersQuery>) {
    return this.bus.request(listContainers, {
      all: query.all,
      limit: query.limit,
      cursor: query.cursor,
      // A non-admin's own team always wins over the `team` filter.
      teamId: teamScope(principal) ?? query.team,
      filters: {
        state: query.state,
        hostId: query.host,
        name: query.name,
        label: query.label,
      },
    });
  }

  async start(principal: RequestPrincipal, ref: string): Promise<ContainerView> {
    const record = await this.get(principal, ref, 'update');
    const runtime = await this.startOn(principal, record);
    return this.view({ ...record, state: runtime.state }, await this.hostOf(record), runtime);
  }

  async stop(principal: RequestPrincipal, ref: string, options: { timeoutSeconds?: number; signal?: string } = {}): Promise<ContainerView> {
    const record = await this.get(principal, ref, 'update');
    const runtime = await this.bus.request(this.agent(this.placedHost(record)).stop, { id: record.id, ...options });
    await this.audit.record(principal, 'container.stop', `container:${record.id}`);
    return this.view({ ...record, state: runtime.state }, await this.hostOf(record), runtime);
  }

  async kill(principal: RequestPrincipal, ref: string, signal: string): Promise<ContainerView> {
    const record = await this.get(principal, ref, 'update');
    const runtime = await this.bus.request(this.agent(this.placedHost(record)).kill, { id: record.id, signal });
    await this.audit.record(principal, 'container.kill', `container:${record.id}`, { signal });
    return this.view({ ...record, state: runtime.state }, await this.hostOf(record), runtime);
  }

  async restart(principal: RequestPrincipal, ref: string, timeoutSeconds?: number): Promise<ContainerView> {
    const record = await this.get(principal, ref, 'update');
    await this.admission.admitStart(principal, record);
    const runtime = await this.bus.request(this.agent(this.placedHost(record)).restart, { id: record.id, timeoutSeconds });
    await this.audit.record(principal, 'container.restart', `container:${record.id}`);
    return this.view({ ...record, state: runtime.state }, await this.hostOf(record), runtime);
  }

  /** `force` kills a running container and forgets one whose host is gone; `removeVolumes` (`rm -v`, `--rm`) takes its anonymous volumes. */
  async remove(principal: RequestPrincipal, ref: string, force: boolean, removeVolumes = false): Promise<{ id: string; removed: true }> {
    const record = await this.get(principal, ref, 'delete');
    if (record.hostId) {
      try {
        await this.bus.request(this.agent(record.hostId).remove, { id: record.id, force });
      } catch (error) {
        const gone = error instanceof MuelleError && (error.code === 'NOT_FOUND' || (force && (error.code === 'UNAVAILABLE' || error.code === 'TIMEOUT')));
        if (!gone) throw error;
      }
    }
    await this.bus.request(deleteContainerRecord, { id: record.id });
    await this.audit.record(principal, 'container.remove', `container:${record.id}`, { name: record.name, force });
    if (removeVolumes) await this.volumes.removeAnonymousOf(principal, record);
    this.hub.publishDestroyOnce({ type: 'container', id: record.id, teamId: record.teamId, attributes: { name: record.name, image: record.image, hostId: record.hostId }, labels: record.spec.labels });
    return { id: record.id, removed: true };
  }

  async wait(principal: RequestPrincipal, ref: string, condition: 'not-running' | 'next-exit') {
    const record = await this.get(principal, ref);
    return this.bus.request(this.agent(this.placedHost(record)).wait, { id: record.id, condition }, { timeoutMs: 24 * 3600_000 });
  }

  async stats(principal: RequestPrincipal, ref: string): Promise<ContainerStats> {
    const record = await this.get(principal, ref);
    return this.bus.request(this.agent(this.placedHost(record)).stats, {
      id: record.id,
    });
  }

  /**
   * `docker system df`'s sizes of a container the caller was already allowed to list, measured by
   * its host's agent; undefined when that host does not answer (df still answers for the others).
   */
  async diskUsage(record: ContainerRecord): Promise<{ sizeRw: number; sizeRootFs: number } | undefined> {
    if (!record.hostId) return undefined;
    try {
      return await this.bus.request(this.agent(record.hostId).diskUsage, { id: record.id }, { timeoutMs: 10_000 });
    } catch (error) {
      this.logger.warn({ err: error, container: record.id }, 'measuring a container for system df failed; its sizes are left out');
      return undefined;
    }
  }

  /** Logs without following: the agent's last lines in one reply. */
  async logLines(principal: RequestPrincipal, ref: string, query: LogsQuery) {
    const record = await this.get(principal, ref);
    return this.bus.request(this.agent(this.placedHost(record)).logs, {
      id: record.id,
      ...query,
      follow: false,
    });
  }

  /** Logs as a stream (also with `follow`); the session ends with onExit once everything was sent. */
  async streamLogs(principal: RequestPrincipal, ref: string, query: LogsQuery, handlers: SessionHandlers): Promise<StreamSession> {
    const record = await this.get(principal, ref);
    const agent = this.agent(this.placedHost(record));
    // Docker's `--until` with `-f`: follow until that time, then end as if the container had stopped.
    const untilMs = query.until ? Date.parse(query.until) - Date.now() : Infinity;
    const follow = query.follow && untilMs > 0;
    let timer: NodeJS.Timeout | undefined;
    const ending = { ...handlers, onExit: (code: number) => (clearTimeout(timer), handlers.onExit(code)), onError: (e: MuelleError) => (clearTimeout(timer), handlers.onError(e)) };
    const { session } = await openStreamSession(this.bus, (streamId) => this.bus.request(agent.logs, { id: record.id, ...query, follow, streamId }), ending);
    if (follow && Number.isFinite(untilMs))
      timer = setTimeout(() => {
        session.close();
        handlers.onExit(0);
      }, untilMs);
    return session;
  }

  /** `fromStart`: also what the current run printed before the attach (see the agent contract). */
  async attach(principal: RequestPrincipal, ref: string, stdin: boolean, handlers: SessionHandlers, fromStart = false): Promise<{ session: StreamSession; tty: boolean }> {
    const record = await this.get(principal, ref, stdin ? 'exec' : 'read');
    const agent = this.agent(this.placedHost(record));
    const { session, reply } = await openStreamSession(this.bus, (streamId) => this.bus.request(agent.attach, { id: record.id, streamId, stdin, fromStart }), handlers);
    return { session, tty: reply.tty };
  }

  async execCreate(principal: RequestPrincipal, ref: string, body: ExecBody): Promise<{ id: string; containerId: string }> {
    const record = await this.get(principal, ref, 'exec');
    const { execId } = await this.bus.request(this.agent(this.placedHost(record)).execCreate, {
      containerId: record.id,
      cmd: body.cmd,
      env: body.env,
      ...{ user: body.user, workingDir: body.workingDir },
      tty: body.tty,
      attachStdin: body.stdin,
      detachKeys: body.detachKeys,
    });
    await this.audit.record(principal, 'container.exec', `container:${record.id}`, { cmd: body.cmd, execId });
    return { id: execId, containerId: record.id };
  }

  async execStart(
    principal: RequestPrincipal,
    ref: string,
    execId: string,
    terminalSize: { rows: number; cols: number } | undefined,
    handlers: SessionHandlers,
  ): Promise<{ session: StreamSession; exec: ExecInfo }> {
    const record = await this.get(principal, ref, 'exec');
    const agent = this.agent(this.placedHost(record));
    const { session, reply } = await openStreamSession(this.bus, (streamId) => this.bus.request(agent.execStart, { execId, streamId, terminalSize }), handlers);
    if (reply.containerId !== record.id) {
      session.close();
      throw new NotFoundError(`no such exec: ${execId}`);
    }
    return { session, exec: reply };
  }

  async execInspect(principal: RequestPrincipal, ref: string, execId: string): Promise<ExecInfo> {
    const record = await this.get(principal, ref);
    const exec = await this.bus.request(this.agent(this.placedHost(record)).execInspect, { execId });
    if (exec.containerId !== record.id) throw new NotFoundError(`no such exec: ${execId}`);
    return exec;
  }

  /** Any team's container by id, or null. */
  async recordById(id: string): Promise<ContainerRecord | null> {
    try {
      return await this.bus.request(getContainer, { ref: id });
    } catch (error) {
      if (error instanceof MuelleError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /** Publishes a container event to SSE subscribers. */
  publish(record: Pick<ContainerRecord, 'id' | 'name' | 'teamId' | 'image' | 'hostId'> & { spec?: { labels?: Record<string, string> } }, action: string, extra: Record<string, unknown> = {}): void {
    this.hub.publish({
      type: 'container',
      action,
      id: record.id,
      teamId: record.teamId,
      attributes: {
        name: record.name,
        image: record.image,
        hostId: record.hostId,
        ...extra,
      },
      labels: record.spec?.labels,
    });
  }

  private async startOn(principal: RequestPrincipal, record: ContainerRecord): Promise<ContainerRuntimeInfo> {
    await this.admission.admitStart(principal, record);
    const runtime = await this.bus.request(this.agent(this.placedHost(record)).start, { id: record.id });
    await this.audit.record(principal, 'container.start', `container:${record.id}`);
    return runtime;
  }

  /** The host a container is placed on (agent requests go there). */
  placedHost(record: ContainerRecord): string {
    if (!record.hostId) throw new UnavailableError(`container ${record.name} is not placed on any host`);
    return record.hostId;
  }

  private async hostOf(record: ContainerRecord): Promise<HostRecord | null> {
    if (!record.hostId) return null;
    return (await this.cluster.hosts()).find((h) => h.id === record.hostId) ?? null;
  }

  /** The agent's view, or null when the host does not answer (reads keep working while an agent is down). */
  private async runtimeOf(record: ContainerRecord): Promise<ContainerRuntimeInfo | null> {
    if (!record.hostId) return null;
    try {
      return await this.bus.request(this.agent(record.hostId).inspect, { id: record.id }, { timeoutMs: INSPECT_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof MuelleError && ['UNAVAILABLE', 'TIMEOUT', 'NOT_FOUND'].includes(error.code)) return null;
      throw error;
    }
  }

  private view(record: ContainerRecord, host: HostRecord | null, runtime: ContainerRuntimeInfo | null): ContainerView {
    return {
      ...record,
      state: runtime?.state ?? record.state,
      health: runtime?.health?.status ?? record.health,
      hostAddress: host?.address ?? null,
      runtime: runtime
        ? {
            pid: runtime.pid,
            ipAddress: runtime.ipAddress,
            macAddress: runtime.macAddress,
            ports: runtime.ports,
            error: runtime.error,
            stoppedByUser: runtime.stoppedByUser,
            state: runtime.state,
            exitCode: runtime.exitCode,
            startedAt: runtime.startedAt,
            finishedAt: runtime.finishedAt,
            health: runtime.health,
          }
        : null,
    };
  }
}
