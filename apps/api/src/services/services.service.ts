import { ImageCatalog } from '../images/image-catalog';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import {
  ContainerRecord,
  ContainerSpec,
  createService,
  deleteService,
  getService,
  ConflictError,
  InvalidArgumentError,
  listContainers,
  MuelleError,
  listServices,
  SERVICE_BACKENDS_LABEL,
  SERVICE_ID_LABEL,
  SERVICE_NAME_LABEL,
  SERVICE_VERSION_LABEL,
  ServiceRecord,
  UpdateState,
  ServiceSpec,
  updateService,
} from '@muelle/contracts';
import type { Action } from '@muelle/authz';
import { AuditLog } from '../audit/audit-log';
import { EventHub } from '../events/event-hub';
import { authorize, RequestPrincipal, teamScope } from '../auth/principal';
import { ContainerAdmission } from '../containers/container-admission';
import { ContainersService } from '../containers/containers.service';
import { Cluster } from '../hosts/cluster';
import { backendsLabel, checkIngressPorts, ingressPorts, pickBackends, taskPorts } from './mesh-ports';
import { CreateContainerBody } from '../containers/containers.schemas';
import { RepositoryAccess } from '../repositories/repository-access';
import { NetworksService } from '../networks/networks.service';
import { CreateServiceBody, ReplaceServiceBody, UpdateServiceBody } from './services.schemas';

/** JSON with sorted keys: the stored spec comes back from jsonb with its keys in another order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}

/** What a spec change must roll out to the tasks; replicas, the update config and the restart policy alone do not. */
const taskPart = (spec: ServiceSpec) => canonical({ ...spec, replicas: 0, updateConfig: null, restartPolicy: null });

/** A user's change that lost a race to another write is made again on the new record this many times in all. */
const WRITE_ATTEMPTS = 3;

/**
 * Services as the API shows them. A service's tasks are containers, so a service is authorized as
 * containers of its team (decide() with kind `container`: create, read, update, delete), and its
 * tasks pass ContainerAdmission and the team quota one by one when the reconciler makes them.
 */
@Injectable()
export class ServicesService {
  constructor(
    private readonly bus: BusClient,
    private readonly containers: ContainersService,
    private readonly admission: ContainerAdmission,
    private readonly repositories: RepositoryAccess,
    private readonly audit: AuditLog,
    private readonly catalog: ImageCatalog,
    private readonly cluster: Cluster,
    private readonly networks: NetworksService,
    private readonly hub: EventHub,
  ) {}

  async create(principal: RequestPrincipal, body: CreateServiceBody): Promise<ServiceRecord> {
    authorize(principal, 'create', { kind: 'container', teamId: principal.teamId }, { notFound: 'no such team' });
    if (principal.kind === 'robot') throw new InvalidArgumentError('a service needs a user as its owner: robot tokens cannot create services');
    const { name, ...rest } = body;
    const spec = await this.checked(principal, { ...rest, image: await this.catalog.runnableReference(principal, rest.image) }, null);
    const record = await this.bus.request(createService, { name, teamId: principal.teamId, ownerId: principal.user.id, spec });
    await this.audit.record(principal, 'service.create', `service:${record.id}`, { name, image: spec.image, replicas: spec.replicas });
    return record;
  }

  list(principal: RequestPrincipal) {
    return this.bus.request(listServices, { teamId: teamScope(principal) });
  }

  async get(principal: RequestPrincipal, ref: string, action: Action = 'read'): Promise<ServiceRecord> {
    const service = await this.bus.request(getService, { ref, teamId: teamScope(principal) });
    authorize(principal, action, { kind: 'container', teamId: service.teamId }, { notFound: `no such service: ${ref}` });
    return service;
  }

  /** Its tasks, newest first, stopped ones too. */
  async tasks(principal: RequestPrincipal, ref: string): Promise<ContainerRecord[]> {
    return this.tasksOf(await this.get(principal, ref));
  }

  async tasksOf(service: ServiceRecord): Promise<ContainerRecord[]> {
    const page = await this.bus.request(listContainers, { all: true, limit: 1000, teamId: service.teamId, filters: { label: [`${SERVICE_ID_LABEL}=${service.id}`] } });
    return page.items;
  }

  /** Replicas only: no rolling update. */
  async scale(principal: RequestPrincipal, ref: string, replicas: number, version?: number): Promise<ServiceRecord> {
    const { before, updated } = await this.change(principal, ref, version, async (service) => ({ ...service.spec, replicas }));
    await this.audit.record(principal, 'service.scale', `service:${before.id}`, { from: before.spec.replicas, to: replicas });
    return updated;
  }

  /**
   * `merge` changes the given fields, `replace` sets the whole spec. A change to what tasks run starts
   * a rolling update; replicas, update and restart settings alone do not; no change at all writes nothing.
   */
  async update(principal: RequestPrincipal, ref: string, changes: UpdateServiceBody | ReplaceServiceBody, mode: 'merge' | 'replace' = 'merge', version?: number): Promise<ServiceRecord> {
    const image = changes.image && { image: await this.catalog.runnableReference(principal, changes.image) };
    const { before, updated, rolling } = await this.change(principal, ref, version, async (service) => {
      const merged = ServiceSpec.parse(
        mode === 'replace'
          ? { ...changes, ...image }
          : {
              ...service.spec,
              ...changes,
              ...image,
              updateConfig: { ...service.spec.updateConfig, ...changes.updateConfig },
              restartPolicy: { ...service.spec.restartPolicy, ...changes.restartPolicy },
            },
      );
      return this.checked(principal, merged, service.id);
    });
    if (updated !== before) await this.audit.record(principal, 'service.update', `service:${before.id}`, { fields: Object.keys(changes), rolling, version: updated.version });
    return updated;
  }

  /**
   * Every user change of a spec: read the record, make the new spec from it, write it only if the
   * record was not written since (metadata's check on version and updatedAt). A client that read the
   * service first (`?version=`, e.g. `--network-add` computed from the networks it saw) is refused with
   * 409 once the version moved on, rather than its change overwriting another; a change written
   * meanwhile without a new version (scale, the reconciler's record) makes the spec again from the
   * new record (a few times).
   */
  private async change(
    principal: RequestPrincipal,
    ref: string,
    version: number | undefined,
    specOf: (service: ServiceRecord) => Promise<ServiceSpec>,
  ): Promise<{ before: ServiceRecord; updated: ServiceRecord; rolling: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const service = await this.get(principal, ref, 'update');
      if (version !== undefined && service.version !== version) {
        throw new ConflictError(`service ${service.name} changed since you read it (version ${version}, now ${service.version}); retry`, { version: service.version, stale: true });
      }
      const spec = await specOf(service);
      if (canonical(spec) === canonical(service.spec)) return { before: service, updated: service, rolling: false };
      const rolling = taskPart(spec) !== taskPart(service.spec);
      try {
        const updated = await this.bus.request(updateService, {
          id: service.id,
          expectedVersion: service.version,
          expectedUpdatedAt: service.updatedAt,
          spec,
          bumpVersion: rolling,
          ...(rolling && { previousSpec: service.spec, updateState: 'updating' as const, updateMessage: '' }),
        });
        if (rolling) this.announceUpdate(updated, service.updateState);
        return { before: service, updated, rolling };
      } catch (error) {
        const stale = error instanceof MuelleError && error.code === 'CONFLICT' && (error.details as { stale?: boolean } | undefined)?.stale === true;
        if (!stale || attempt >= WRITE_ATTEMPTS) throw error;
      }
    }
  }

  /** Back to the spec before the last update, rolled out like an update. */
  async rollback(principal: RequestPrincipal, ref: string): Promise<ServiceRecord> {
    const service = await this.get(principal, ref, 'update');
    if (!service.previousSpec) throw new InvalidArgumentError(`service ${service.name} has no previous spec to roll back to`);
    const updated = await this.bus.request(updateService, {
      id: service.id,
      expectedVersion: service.version,
      spec: service.previousSpec,
      previousSpec: service.spec,
      updateState: 'rollback_started',
      updateMessage: 'rollback asked by a user',
    });
    await this.audit.record(principal, 'service.rollback', `service:${service.id}`, { version: updated.version });
    this.announceUpdate(updated, service.updateState);
    return updated;
  }

  /**
   * Docker's service event for a rolling update's progress: `update` with `updatestate.old` and
   * `updatestate.new` (updating, paused, completed, rollback_started, rollback_completed) and why.
   */
  announceUpdate(service: ServiceRecord, before: UpdateState): void {
    this.hub.publish({
      type: 'service',
      action: 'update',
      id: service.id,
      teamId: service.teamId,
      attributes: { name: service.name, version: service.version, 'updatestate.old': before, 'updatestate.new': service.updateState, message: service.updateMessage },
    });
  }

  /** The record goes first (the reconciler stops caring), then its tasks. */
  async remove(principal: RequestPrincipal, ref: string): Promise<{ id: string; removed: true; tasks: number }> {
    const service = await this.get(principal, ref, 'delete');
    await this.bus.request(deleteService, { id: service.id });
    const tasks = await this.tasksOf(service);
    // As swarmkit: a task goes with its anonymous volumes (an image VOLUME makes one per task).
    for (const task of tasks) await this.containers.remove(principal, task.id, true, true);
    await this.audit.record(principal, 'service.remove', `service:${service.id}`, { name: service.name, tasks: tasks.length });
    return { id: service.id, removed: true, tasks: tasks.length };
  }

  /** The last `tail` lines of each task, each line prefixed with its task and host, like `docker service logs`. */
  async logs(principal: RequestPrincipal, ref: string, query: { tail: number; timestamps: boolean }) {
    const service = await this.get(principal, ref);
    const lines: Array<{ task: string; hostId: string | null; stream: 'stdout' | 'stderr'; time: string; line: string }> = [];
    for (const task of await this.tasksOf(service)) {
      if (!task.hostId) continue;
      const reply = await this.containers.logLines(principal, task.id, { tail: query.tail, timestamps: query.timestamps, stdout: true, stderr: true, follow: false });
      for (const line of reply.lines) lines.push({ task: task.name, hostId: task.hostId, ...line });
    }
    return { lines: lines.sort((a, b) => a.time.localeCompare(b.time)) };
  }

  /** The container a task of `service` runs (its current spec and version). */
  taskBody(service: ServiceRecord): CreateContainerBody {
    return { ...taskSpec(service.spec, service, pickBackends(service.spec)), networks: service.spec.networks, name: `${service.name}.${randomBytes(5).toString('hex')}`, start: true };
  }

  /**
   * Refused now, not task by task later: the ingress ports (free on every host; another service's
   * ports are metadata's to refuse, with the write), the team policy,
   * pull rights, and the networks (the container's rule for how many, each one the team's), as a
   * container create would check them.
   */
  private async checked(principal: RequestPrincipal, spec: ServiceSpec, self: string | null): Promise<ServiceSpec> {
    if (ingressPorts(spec).length) checkIngressPorts(spec, self, await this.cluster.usages());
    await this.admission.admit(principal, taskSpec(spec, null, pickBackends(spec)));
    const networks = CreateContainerBody.shape.networks.safeParse(spec.networks);
    if (!networks.success) throw new InvalidArgumentError(`body.networks: ${networks.error.issues[0]?.message ?? 'invalid'}`);
    await this.networks.endpointsFor(principal, spec.networks, spec.network);
    await this.repositories.requireImagePull(principal, spec.image, 'body.image');
    return spec;
  }
}

function taskSpec(spec: ServiceSpec, service: Pick<ServiceRecord, 'id' | 'version'> | null, backends: Record<string, number>): ContainerSpec {
  const meshed = Object.keys(backends).length ? { [SERVICE_BACKENDS_LABEL]: backendsLabel(backends) } : {};
  return ContainerSpec.parse({
    image: spec.image,
    command: spec.command,
    entrypoint: spec.entrypoint,
    env: spec.env,
    workingDir: spec.workingDir,
    user: spec.user,
    ports: taskPorts(spec, backends),
    volumes: spec.volumes,
    network: spec.network,
    resources: spec.resources,
    healthcheck: spec.healthcheck,
    stopSignal: spec.stopSignal,
    stopTimeoutSeconds: spec.stopTimeoutSeconds,
    placement: { constraints: spec.constraints },
    // The reconciler replaces exited tasks (with a new container, as Swarm does), so the agent restarts none.
    restartPolicy: { name: 'no', maxRetries: 0 },
    labels: service ? { ...spec.labels, [SERVICE_ID_LABEL]: service.id, [SERVICE_VERSION_LABEL]: String(service.version), [SERVICE_NAME_LABEL]: service.id, ...meshed } : spec.labels,
  });
}
