import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import { acquireLease, ConflictError, createToken, drainTasks, getPrincipal, listServices, MuelleError, SERVICE_VERSION_LABEL, ServiceRecord, updateService } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import { RequestPrincipal } from '../auth/principal';
import { API_CONFIG, ApiConfig } from '../config';
import { ContainersService } from '../containers/containers.service';
import { Cluster } from '../hosts/cluster';
import { PeriodicRound } from '../reconciler/periodic-round';
import { ingressPorts } from './mesh-ports';
import { planService, TaskView } from './service-planner';
import { ServicesService } from './services.service';

const LEASE = 'services-reconciler';
/** A token the reconciler acts with for a service owner; renewed well before it expires. */
const OWNER_TOKEN_SECONDS = 900;
const OWNER_REUSE_MS = 600_000;
/**
 * How long a task announced as draining stays up before it is removed: every agent's routing mesh
 * hears the announcement, waits its 300 ms settle, reads the record and applies its rules well within it.
 */
const MESH_DRAIN_MS = 2_000;

/**
 * Keeps every service true to its spec, every `MUELLE_SERVICES_RECONCILE_SECONDS`: reads the
 * service and its tasks, asks the pure planner, applies its decision. Only the api replica holding
 * the `services-reconciler` lease in metadata acts (it renews it every round; another replica takes
 * over once it lapses), and a record change is written only if the service is still at the version
 * read, so two replicas never apply two decisions. Tasks are made and removed through
 * ContainersService acting for the service's owner: the same admission, quota, pull rights and
 * audit as the owner's own `run`.
 */
@Injectable()
export class ServiceReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop = new PeriodicRound(() => this.pass());
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly owners = new Map<string, { principal: RequestPrincipal; until: number }>();

  constructor(
    private readonly bus: BusClient,
    private readonly cluster: Cluster,
    private readonly containers: ContainersService,
    private readonly services: ServicesService,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap() {
    this.loop.start(this.config.MUELLE_SERVICES_RECONCILE_SECONDS);
  }

  onApplicationShutdown() {
    this.loop.stop();
  }

  /** One pass over every service; never two at once in this process. */
  round(): Promise<void> {
    return this.loop.run();
  }

  private async pass(): Promise<void> {
    try {
      const ttlMs = Math.max(10_000, this.config.MUELLE_SERVICES_RECONCILE_SECONDS * 5000);
      const lease = await this.bus.request(acquireLease, { name: LEASE, holder: this.holder, ttlMs });
      if (!lease.held) return;
      const { items } = await this.bus.request(listServices, {});
      if (!items.length) return;
      const unavailable = new Set((await this.cluster.hosts()).filter((h) => h.state !== 'ready').map((h) => h.id));
      for (const service of items) {
        await this.reconcile(service, unavailable).catch((error: unknown) => this.logger.warn({ err: error, service: service.name }, 'service not reconciled this round'));
      }
    } catch (error) {
      if (!(error instanceof MuelleError && ['UNAVAILABLE', 'TIMEOUT'].includes(error.code))) this.logger.error({ err: error }, 'services round failed');
    }
  }

  private async reconcile(service: ServiceRecord, unavailable: ReadonlySet<string>): Promise<void> {
    const tasks: TaskView[] = (await this.services.tasksOf(service)).map((c) => ({
      id: c.id,
      version: Number(c.labels[SERVICE_VERSION_LABEL] ?? 0),
      state: c.state,
      health: c.health,
      exitCode: c.exitCode,
      hostId: c.hostId,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      createdAt: c.createdAt,
    }));
    const plan = planService(service, tasks, unavailable, Date.now());
    if (plan.record || plan.restartHistory) {
      const { rollback, ...state } = plan.record ?? {};
      let updated: ServiceRecord;
      try {
        updated = await this.bus.request(updateService, {
          id: service.id,
          expectedVersion: service.version,
          expectedUpdateState: service.updateState,
          ...state,
          ...(plan.restartHistory && { restartHistory: plan.restartHistory }),
          ...(rollback ?? { bumpVersion: false }),
        });
      } catch (error) {
        // Someone changed the service since it was read: decide again next round with what is true then.
        if (error instanceof MuelleError && error.code === 'CONFLICT') return;
        throw error;
      }
      if (updated.updateState !== service.updateState) this.services.announceUpdate(updated, service.updateState);
      if (plan.record) this.logger.info({ service: service.name, state: plan.record.updateState, message: plan.record.updateMessage }, 'service update state changed');
      if (rollback) return;
    }
    if (!plan.remove.length && !plan.create) return;
    const owner = await this.ownerOf(service);
    // Tasks on hosts that are down or draining go only once their replacements run elsewhere: a host
    // that missed a few heartbeats (a loaded machine) comes back with its tasks, and until then they
    // are all the service has.
    const stranded = new Set(tasks.filter((t) => t.hostId && unavailable.has(t.hostId)).map((t) => t.id));
    const leaving = plan.remove.filter((id) => !stranded.has(id));
    await this.drain(service, tasks, leaving);
    await this.removeTasks(owner, service, leaving);
    let made = 0;
    for (; made < plan.create; made++) {
      try {
        await this.containers.create(owner, this.services.taskBody(service));
      } catch (error) {
        this.logger.warn({ err: error, service: service.name }, 'task not made; retrying next round');
        break;
      }
    }
    if (made === plan.create) await this.removeTasks(owner, service, plan.remove.filter((id) => stranded.has(id)));
  }

  /**
   * Tasks of a service with ingress ports leave the routing mesh before they are killed, so no new
   * connection goes to a dying task: metadata marks them draining and announces it
   * (`muelle.metadata.tasks.draining.v1`), which takes them out of every host's mesh, and the removal
   * waits MESH_DRAIN_MS.
   */
  private async drain(service: ServiceRecord, tasks: readonly TaskView[], ids: readonly string[]): Promise<void> {
    if (!ingressPorts(service.spec).length) return;
    const leaving = tasks.filter((t) => ids.includes(t.id) && t.state === 'running' && t.hostId).map((t) => t.id);
    if (!leaving.length) return;
    const { draining } = await this.bus.request(drainTasks, { serviceId: service.id, ids: leaving });
    if (draining.length) await new Promise((resolve) => setTimeout(resolve, MESH_DRAIN_MS));
  }

  private async removeTasks(owner: RequestPrincipal, service: ServiceRecord, ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.containers.remove(owner, id, true, true).catch((error: unknown) => this.logger.warn({ err: error, service: service.name, task: id }, 'task not removed; retrying next round'));
    }
  }

  /** The owner as a request principal, with a short-lived token for the registry (as a move acts for a container's owner). */
  private async ownerOf(service: ServiceRecord): Promise<RequestPrincipal> {
    const cached = this.owners.get(service.ownerId);
    if (cached && cached.until > Date.now() && cached.principal.teamId === service.teamId) return cached.principal;
    const owner = await this.bus.request(getPrincipal, { userId: service.ownerId });
    if (owner.teamId !== service.teamId) throw new ConflictError(`the owner of service ${service.name} is no longer in its team`);
    const { token } = await this.bus.request(createToken, { userId: service.ownerId, name: 'service-reconciler', ttlSeconds: OWNER_TOKEN_SECONDS });
    const principal: RequestPrincipal = { ...owner, registryCredentials: { username: owner.user.username, password: token } };
    this.owners.set(service.ownerId, { principal, until: Date.now() + OWNER_REUSE_MS });
    return principal;
  }
}
