import { Controller, Inject } from '@nestjs/common';
import { BusClient, HandleRequest } from '@muelle/bus';
import { agentContracts, ParsedRequestOf } from '@muelle/contracts';
import { ContainerRuntime } from './containers/container-runtime';
import { onHostDisk } from './host/disk-full';
import { ExecManager } from './containers/exec-manager';
import { OutputStreams } from './containers/output-streams';
import { ContainerArchives } from './containers/archive/container-archives';
import { containerPaths } from './containers/container-paths';
import { ContainerDiskUsage } from './containers/disk-usage';
import { dirname } from 'node:path';
import { PROCESS_TITLES, processTable } from './containers/process-table';
import { ImageStore } from './images/image-store';
import { teamVolumeName, VolumeStore, withTeamVolumes } from './volumes/volume-store';
import { EXEC_MANAGER, IMAGE_STORE, RUNTIME, VOLUME_STORE } from './tokens';

type C = ReturnType<typeof agentContracts>;

/** The per-host bus API; subjects carry the host id, so the controller class is made per host. */
export function agentControllerFor(hostId: string) {
  const c = agentContracts(hostId);

  @Controller()
  class AgentController {
    constructor(
      @Inject(RUNTIME) private readonly runtime: ContainerRuntime,
      @Inject(EXEC_MANAGER) private readonly execs: ExecManager,
      @Inject(IMAGE_STORE) private readonly images: ImageStore,
      @Inject(VOLUME_STORE) private readonly volumes: VolumeStore,
      bus: BusClient,
    ) {
      this.output = new OutputStreams(runtime, bus);
      this.archives = new ContainerArchives(hostId, runtime, () => bus.streams());
      this.disk = new ContainerDiskUsage((diffId) => images.layerPath(diffId));
    }

    private readonly output: OutputStreams;
    private readonly archives: ContainerArchives;
    private readonly disk: ContainerDiskUsage;

    @HandleRequest(c.archiveStat)
    async archiveStat(r: ParsedRequestOf<C['archiveStat']>) {
      await this.runtime.ready;
      return this.archives.stat(r.id, r.path);
    }
    @HandleRequest(c.archiveGet)
    async archiveGet(r: ParsedRequestOf<C['archiveGet']>) {
      await this.runtime.ready;
      return this.archives.get(r.id, r.path, r.streamId);
    }
    @HandleRequest(c.archivePut)
    async archivePut(r: ParsedRequestOf<C['archivePut']>) {
      await this.runtime.ready;
      return this.archives.put(r);
    }

    @HandleRequest(c.create)
    async create(r: ParsedRequestOf<C['create']>) {
      await this.runtime.ready;
      return onHostDisk(hostId, () => this.runtime.create({ ...r, spec: withTeamVolumes(r.spec, r.teamId) }));
    }
    @HandleRequest(c.start)
    async start(r: ParsedRequestOf<C['start']>) {
      await this.runtime.ready;
      return onHostDisk(hostId, () => this.runtime.start(r.id));
    }
    @HandleRequest(c.stop)
    async stop(r: ParsedRequestOf<C['stop']>) {
      await this.runtime.ready;
      return this.runtime.stop(r.id, r.timeoutSeconds, r.signal);
    }
    @HandleRequest(c.kill)
    async kill(r: ParsedRequestOf<C['kill']>) {
      await this.runtime.ready;
      return this.runtime.kill(r.id, r.signal);
    }
    @HandleRequest(c.restart)
    async restart(r: ParsedRequestOf<C['restart']>) {
      await this.runtime.ready;
      return this.runtime.restart(r.id, r.timeoutSeconds);
    }
    @HandleRequest(c.remove)
    async remove(r: ParsedRequestOf<C['remove']>) {
      await this.runtime.ready;
      return this.runtime.remove(r.id, r.force);
    }
    @HandleRequest(c.inspect)
    async inspect(r: ParsedRequestOf<C['inspect']>) {
      await this.runtime.ready;
      return this.runtime.info(r.id);
    }
    @HandleRequest(c.list)
    async list() {
      await this.runtime.ready;
      return { items: this.runtime.all().map((r) => this.runtime.info(r.id)) };
    }
    @HandleRequest(c.wait)
    async wait(r: ParsedRequestOf<C['wait']>) {
      await this.runtime.ready;
      return this.runtime.wait(r.id, r.condition);
    }

    @HandleRequest(c.connectNetwork)
    async connectNetwork(r: ParsedRequestOf<C['connectNetwork']>) {
      await this.runtime.ready;
      return this.runtime.connectNetwork(r.id, r.endpoint);
    }
    @HandleRequest(c.disconnectNetwork)
    async disconnectNetwork(r: ParsedRequestOf<C['disconnectNetwork']>) {
      await this.runtime.ready;
      return this.runtime.disconnectNetwork(r.id, r.networkId);
    }
    @HandleRequest(c.top)
    async top(r: ParsedRequestOf<C['top']>) {
      await this.runtime.ready;
      return { titles: [...PROCESS_TITLES], processes: await processTable(await this.runtime.processIds(r.id)) };
    }

    @HandleRequest(c.logs)
    async logs(r: ParsedRequestOf<C['logs']>) {
      await this.runtime.ready;
      return this.output.logs(r);
    }

    @HandleRequest(c.attach)
    async attach(r: ParsedRequestOf<C['attach']>) {
      await this.runtime.ready;
      return this.output.attach(r);
    }

    @HandleRequest(c.execCreate)
    async execCreate(r: ParsedRequestOf<C['execCreate']>) {
      await this.runtime.ready;
      return this.execs.create(r);
    }
    @HandleRequest(c.execStart)
    async execStart(r: ParsedRequestOf<C['execStart']>) {
      await this.runtime.ready;
      return this.execs.start(r);
    }
    @HandleRequest(c.execInspect)
    async execInspect(r: ParsedRequestOf<C['execInspect']>) {
      await this.runtime.ready;
      return this.execs.inspect(r.execId);
    }
    @HandleRequest(c.stats)
    async stats(r: ParsedRequestOf<C['stats']>) {
      await this.runtime.ready;
      return this.runtime.stats(r.id);
    }
    @HandleRequest(c.diskUsage)
    async diskUsage(r: ParsedRequestOf<C['diskUsage']>) {
      await this.runtime.ready;
      const record = this.runtime.get(r.id);
      return this.disk.measure(containerPaths(dirname(this.runtime.dir(r.id)), r.id).upper, record.layers);
    }

    private usersOfImage(digest: string): string[] {
      return this.runtime.all().filter((x) => x.imageDigest === digest).map((x) => x.id);
    }
    @HandleRequest(c.pullImage)
    async pullImage(r: ParsedRequestOf<C['pullImage']>) {
      await this.runtime.ready;
      const image = await onHostDisk(hostId, () => this.images.pull(r.reference, r.registryAuth));
      return this.images.toHostImage(image, this.usersOfImage(image.digest));
    }
    @HandleRequest(c.listImages)
    async listImages() {
      await this.runtime.ready;
      return { images: (await this.images.list()).map((i) => this.images.toHostImage(i, this.usersOfImage(i.digest))) };
    }
    @HandleRequest(c.removeImage)
    async removeImage(r: ParsedRequestOf<C['removeImage']>) {
      await this.runtime.ready;
      return this.images.remove(r.reference, (d) => this.runtime.usedImages().has(d), r.force);
    }

    @HandleRequest(c.pruneImages)
    async pruneImages() {
      await this.runtime.ready;
      return this.images.prune((d) => this.runtime.usedImages().has(d));
    }

    private usersOfVolume(name: string): string[] {
      return this.runtime.all().filter((x) => x.spec.volumes.some((v) => v.kind === 'volume' && v.source === name)).map((x) => x.id);
    }
    @HandleRequest(c.createVolume)
    async createVolume(r: ParsedRequestOf<C['createVolume']>) {
      await this.runtime.ready;
      const stored = teamVolumeName(r.teamId, r.name);
      return this.volumes.toInfo(await onHostDisk(hostId, () => this.volumes.ensure(stored, r.labels)), this.usersOfVolume(stored));
    }
    @HandleRequest(c.listVolumes)
    async listVolumes() {
      await this.runtime.ready;
      return { volumes: (await this.volumes.list()).map((v) => this.volumes.toInfo(v, this.usersOfVolume(v.name))) };
    }
    @HandleRequest(c.removeVolume)
    async removeVolume(r: ParsedRequestOf<C['removeVolume']>) {
      await this.runtime.ready;
      const stored = teamVolumeName(r.teamId, r.name);
      await this.volumes.remove(stored, this.usersOfVolume(stored), r.force);
      return { removed: true };
    }
    @HandleRequest(c.volumeDiskUsage)
    async volumeDiskUsage(r: ParsedRequestOf<C['volumeDiskUsage']>) {
      await this.runtime.ready;
      return { size: await this.volumes.size(teamVolumeName(r.teamId, r.name)) };
    }
  }
  return AgentController;
}
