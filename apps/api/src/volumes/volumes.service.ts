import { Inject, Injectable } from '@nestjs/common';
import { BusClient } from '@muelle/bus';
import {
  agentContracts,
  ConflictError,
  ContainerSpec,
  createVolume,
  deleteVolume,
  getVolume,
  InvalidArgumentError,
  listVolumes,
  MuelleError,
  NotFoundError,
  TeamVolumeName,
  VolumeMount,
  UnavailableError,
  VolumeRecord,
} from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Action } from '@muelle/authz';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/audit-log';
import { authorize, RequestPrincipal, SYSTEM_ACTOR, teamScope } from '../auth/principal';
import { Cluster } from '../hosts/cluster';
import { explainNoPlacement, placeContainer } from '../scheduling/scheduler';
import { CreateVolumeBody } from './volumes.schemas';

/** Docker's mark of a volume made without a name. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export type VolumeView = VolumeRecord & { usedBy: string[] };

/** What a new container's named volumes mean for its placement (see `VolumesService.placementFor`). */
export interface VolumePlacement {
  spec: ContainerSpec;
  /** The host the volumes already live on (the container is pinned there), if any. */
  hostId: string | null;
  /** Volumes that do not exist yet: recorded on the chosen host once the container is placed. */
  missing: string[];
  /** The new anonymous ones among `missing` (recorded with ANONYMOUS_LABEL). */
  anonymous: ReadonlySet<string>;
}

/** A mount as a create body may give it: a `volume` without a source is an anonymous one (`-v /data`). */
export type RequestedMount = Omit<VolumeMount, 'source'> & { source?: string };

/** `/data/` and `/data` are one mount point (dockerd compares cleaned paths). */
const mountPoint = (path: string) => posix.normalize(path).replace(/(.)\/+$/, '$1');

/** Does `labels` have every `key` or `key=value` of `wanted`? (Docker's `label` filter.) */
export function hasLabels(labels: Record<string, string>, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? w in labels : labels[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

/**
 * Teams' named volumes for `/v1/volumes`, the Docker API's `/volumes` and containers' `-v name:`.
 * A volume is a directory on one host (driver `local`): metadata records which, the agent of that
 * host makes and removes the directory. decide() answers every action (kind `volume`), so another
 * team's volume is a 404.
 */
@Injectable()
export class VolumesService {
  constructor(
    private readonly bus: BusClient,
    private readonly cluster: Cluster,
    private readonly audit: AuditLog,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Idempotent as Docker's: an existing volume of the name is returned (its labels unchanged). */
  async create(principal: RequestPrincipal, body: CreateVolumeBody): Promise<VolumeRecord> {
    authorize(principal, 'create', { kind: 'volume', teamId: principal.teamId }, { notFound: 'no such team' });
    const name = body.name ?? randomBytes(32).toString('hex');
    // As Docker 23+: a volume made without a name is anonymous, the only kind a plain `volume prune` removes.
    const labels = body.name ? body.labels : { ...body.labels, [ANONYMOUS_LABEL]: '' };
    const existing = await this.find(principal.teamId, name);
    if (existing) return existing;
    const hostId = await this.chooseHost();
    const { volume, created } = await this.bus.request(createVolume, { teamId: principal.teamId, name, driver: body.driver, labels, hostId });
    if (!created) return volume;
    try {
      await this.bus.request(agentContracts(volume.hostId).createVolume, { name, teamId: principal.teamId, labels });
    } catch (error) {
      // The directory could not be made: the record must not claim a volume that is not there.
      await this.bus.request(deleteVolume, { teamId: principal.teamId, name }).catch((cleanup) => this.logger.warn({ err: cleanup, volume: name }, 'record of a volume its agent refused not deleted'));
      throw error;
    }
    await this.audit.record(principal, 'volume.create', `volume:${name}`, { hostId: volume.hostId, driver: volume.driver });
    return volume;
  }

  async list(principal: RequestPrincipal): Promise<VolumeView[]> {
    return (await this.bus.request(listVolumes, { teamId: teamScope(principal) })).items;
  }

  async get(principal: RequestPrincipal, name: string, action: Action = 'read'): Promise<VolumeView> {
    const volume = await this.find(principal.teamId, name);
    if (!volume) throw new NotFoundError(`no such volume: ${name}`);
    authorize(principal, action, { kind: 'volume', teamId: volume.teamId }, { notFound: `no such volume: ${name}` });
    const listed = (await this.bus.request(listVolumes, { teamId: volume.teamId })).items.find((v) => v.name === name);
    return { ...volume, usedBy: listed?.usedBy ?? [] };
  }

  /**
   * `docker system df -v`'s size of a volume the caller was already allowed to list, measured by
   * its host's agent; undefined when that host does not answer (df still answers for the others).
   */
  async diskUsage(volume: VolumeRecord): Promise<number | undefined> {
    try {
      return (await this.bus.request(agentContracts(volume.hostId).volumeDiskUsage, { name: volume.name, teamId: volume.teamId }, { timeoutMs: 10_000 })).size;
    } catch (error) {
      this.logger.warn({ err: error, volume: volume.name, hostId: volume.hostId }, 'measuring a volume for system df failed; its size is left unknown');
      return undefined;
    }
  }

  /** 409 naming the containers (running or not) that mount it; then its host's agent removes the directory. */
  async remove(principal: RequestPrincipal, name: string): Promise<VolumeRecord> {
    const volume = await this.get(principal, name, 'delete');
    const deleted = await this.deleteEverywhere(volume.teamId, name);
    await this.audit.record(principal, 'volume.remove', `volume:${name}`, { hostId: deleted.hostId });
    return deleted;
  }

  /**
   * `rm -v` and `--rm`: a removed container's anonymous volumes go with it; named ones stay, and
   * so does an anonymous one another container still mounts (as dockerd). `principal` null: the
   * container's agent removed it (`--rm` asked for at create by whoever was allowed to create it).
   */
  async removeAnonymousOf(principal: RequestPrincipal | null, container: { teamId: string | null; spec: Pick<ContainerSpec, 'volumes'> }): Promise<void> {
    for (const mount of container.spec.volumes) {
      if (mount.kind !== 'volume') continue;
      const volume = await this.find(container.teamId, mount.source);
      if (!volume || !(ANONYMOUS_LABEL in volume.labels)) continue;
      try {
        if (principal) await this.remove(principal, volume.name);
        else {
          await this.deleteEverywhere(volume.teamId, volume.name);
          await this.audit.record(SYSTEM_ACTOR, 'volume.remove', `volume:${volume.name}`, { hostId: volume.hostId, reason: 'container auto-removed' });
        }
      } catch (error) {
        // Still mounted by another container, or already removed: dockerd leaves it too.
        if (!(error instanceof MuelleError && (error.code === 'CONFLICT' || error.code === 'NOT_FOUND'))) throw error;
      }
    }
  }

  /** The record, then the directory on its host (the caller was allowed to remove it). */
  private async deleteEverywhere(teamId: string | null, name: string): Promise<VolumeRecord> {
    const { deleted } = await this.bus.request(deleteVolume, { teamId, name });
    if (!deleted) throw new NotFoundError(`no such volume: ${name}`);
    try {
      await this.bus.request(agentContracts(deleted.hostId).removeVolume, { name, teamId: deleted.teamId, force: false });
    } catch (error) {
      // Already gone on the host (never used, or the host's data was reset): nothing left to remove.
      if (!(error instanceof MuelleError && error.code === 'NOT_FOUND')) {
        this.logger.warn({ err: error, volume: name, hostId: deleted.hostId }, 'volume record deleted but its directory was not removed');
        throw error;
      }
    }
    return deleted;
  }

  /**
   * Removes the caller's team's volumes no container mounts (with every label of `labels`; only
   * anonymous ones with `anonymousOnly`, Docker API 1.42+'s prune without `all`); their names.
   */
  async prune(principal: RequestPrincipal, labels: readonly string[], anonymousOnly = false): Promise<string[]> {
    authorize(principal, 'delete', { kind: 'volume', teamId: principal.teamId }, { notFound: 'no such team' });
    const own = (await this.bus.request(listVolumes, { teamId: principal.teamId })).items;
    const removed: string[] = [];
    const wanted = anonymousOnly ? [...labels, ANONYMOUS_LABEL] : labels;
    for (const volume of own.filter((v) => !v.usedBy.length && hasLabels(v.labels, wanted))) {
      try {
        await this.remove(principal, volume.name);
        removed.push(volume.name);
      } catch (error) {
        // Mounted by a container created since the listing: it is in use now, so not pruned.
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    return removed;
  }

  /**
   * A new container's named volumes: the ones that exist pin it to their host (a volume is local
   * to one host); several hosts, or a host other than the one asked for, are refused naming them.
   */
  async placementFor(principal: RequestPrincipal, spec: ContainerSpec, anonymous: ReadonlySet<string> = new Set()): Promise<VolumePlacement> {
    const names = [...new Set(spec.volumes.filter((v) => v.kind === 'volume').map((v) => v.source))];
    const hosts = new Map<string, string>();
    const missing: string[] = [];
    for (const name of names) {
      // A fresh random name: nothing to look up, it is made wherever the container lands.
      if (anonymous.has(name)) {
        missing.push(name);
        continue;
      }
      const valid = TeamVolumeName.safeParse(name);
      if (!valid.success) throw new InvalidArgumentError(`volume name ${name}: ${valid.error.issues[0].message}`);
      const volume = await this.find(principal.teamId, name);
      if (volume) hosts.set(name, volume.hostId);
      else missing.push(name);
    }
    const distinct = [...new Set(hosts.values())];
    if (distinct.length > 1) throw new InvalidArgumentError(`the volumes live on different hosts (${[...hosts].map(([n, h]) => `${n} on ${h}`).join(', ')}); a container can only use volumes of one host`);
    const hostId = distinct[0] ?? null;
    if (hostId === null) return { spec, hostId, missing, anonymous };
    if (spec.placement.hostId && spec.placement.hostId !== hostId) {
      throw new InvalidArgumentError(`volume ${[...hosts.keys()][0]} lives on host ${hostId}, not on the requested host ${spec.placement.hostId}`);
    }
    return { spec: { ...spec, placement: { ...spec.placement, hostId } }, hostId, missing, anonymous };
  }

  /**
   * As dockerd: each mount of a `volume` without a source (`-v /data`, the Docker body's `Volumes`)
   * and each of the image's VOLUME paths nothing is mounted at gets a new anonymous volume, named
   * with 64 random hex digits. Placement then treats them as named volumes that do not exist yet.
   */
  withAnonymous(mounts: readonly RequestedMount[], imageVolumes: readonly string[]): { volumes: VolumeMount[]; anonymous: Set<string> } {
    const anonymous = new Set<string>();
    const fresh = () => {
      const name = randomBytes(32).toString('hex');
      anonymous.add(name);
      return name;
    };
    const volumes = mounts.map((m): VolumeMount => {
      if (m.source) return { ...m, source: m.source };
      if (m.kind === 'bind') throw new InvalidArgumentError(`the bind mount at ${m.target} needs a source`);
      return { ...m, source: fresh() };
    });
    const taken = new Set(volumes.map((v) => mountPoint(v.target)));
    for (const path of imageVolumes) {
      if (!path.startsWith('/') || taken.has(mountPoint(path))) continue;
      taken.add(mountPoint(path));
      volumes.push({ kind: 'volume', source: fresh(), target: mountPoint(path), readOnly: false });
    }
    return { volumes, anonymous };
  }

  /** Records the volumes a container placed on `hostId` made there (its agent makes the directories). */
  async recordOnHost(principal: RequestPrincipal, hostId: string, names: readonly string[], anonymous: ReadonlySet<string> = new Set()): Promise<void> {
    for (const name of names) {
      const labels: Record<string, string> = anonymous.has(name) ? { [ANONYMOUS_LABEL]: '' } : {};
      const { created } = await this.bus.request(createVolume, { teamId: principal.teamId, name, hostId, labels, requireHost: true });
      if (created) await this.audit.record(principal, 'volume.create', `volume:${name}`, { hostId, driver: 'local' });
    }
  }

  /** The refusal when no host takes a container pinned by its volumes: the volume's host and why it said no. */
  explainRefusal(placement: VolumePlacement, rejections: Parameters<typeof explainNoPlacement>[0]): string {
    const own = rejections.find((r) => r.hostId === placement.hostId);
    return `the container's volumes live on host ${placement.hostId}, which cannot take it: ${own?.reason ?? 'the host is not registered'}`;
  }

  private async find(teamId: string | null, name: string): Promise<VolumeRecord | undefined> {
    try {
      return await this.bus.request(getVolume, { teamId, name });
    } catch (error) {
      // "No such volume" is an answer here (create makes it, placement records it later).
      if (error instanceof MuelleError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** A new volume goes where the scheduler would put a container that reserves nothing: the least loaded ready host. */
  private async chooseHost(): Promise<string> {
    const [hosts, usages] = await Promise.all([this.cluster.hosts(), this.cluster.usages()]);
    const placement = placeContainer(ContainerSpec.parse({ image: 'volume' }), hosts, usages);
    if (placement.hostId === null) throw new UnavailableError(`no host can take a volume: ${explainNoPlacement(placement.rejections)}`);
    return placement.hostId;
  }
}
