import { Controller, Inject } from '@nestjs/common';
import { BusClient, Frame, FrameType, HandleRequest, StreamEnd } from '@muelle/bus';
import { agentContracts, ConflictError, LogLine, ParsedRequestOf } from '@muelle/contracts';
import { ContainerRuntime } from './containers/container-runtime';
import { ExecManager } from './containers/exec-manager';
import { PROCESS_TITLES, processTable } from './containers/process-table';
import { ImageStore } from './images/image-store';
import { VolumeStore, withTeamVolumes } from './volumes/volume-store';
import { EXEC_MANAGER, IMAGE_STORE, RUNTIME, VOLUME_STORE } from './tokens';

type C = ReturnType<typeof agentContracts>;
const MAX_REPLY_LINES = 5000;
const MAX_REPLY_BYTES = 512 * 1024;

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
      private readonly bus: BusClient,
    ) {}

    @HandleRequest(c.create)
    async create(r: ParsedRequestOf<C['create']>) {
      await this.runtime.ready;
      return this.runtime.create({ ...r, spec: withTeamVolumes(r.spec, r.teamId) });
    }
    @HandleRequest(c.start)
    async start(r: ParsedRequestOf<C['start']>) {
      await this.runtime.ready;
      return this.runtime.start(r.id);
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

    @HandleRequest(c.top)
    async top(r: ParsedRequestOf<C['top']>) {
      await this.runtime.ready;
      return { titles: [...PROCESS_TITLES], processes: await processTable(await this.runtime.processIds(r.id)) };
    }

    @HandleRequest(c.logs)
    async logs(r: ParsedRequestOf<C['logs']>) {
      await this.runtime.ready;
      const log = this.runtime.logOf(r.id);
      const filter = { since: r.since, until: r.until, stdout: r.stdout, stderr: r.stderr, tail: r.tail };
      if (!r.streamId) {
        const lines = await log.read(filter);
        let bytes = 0;
        let start = lines.length;
        while (start > 0 && lines.length - start < MAX_REPLY_LINES && bytes + (lines[start - 1] as LogLine).line.length <= MAX_REPLY_BYTES) bytes += (lines[--start] as LogLine).line.length;
        return { lines: lines.slice(start), truncated: start > 0, streaming: false };
      }
      const format = (l: { stream: string; time: string; line: string }) => (r.timestamps ? `${l.time} ${l.line}` : l.line);
      let stopped = false;
      let ready!: () => void;
      const clientReady = new Promise<void>((res) => (ready = res));
      const end = new StreamEnd(this.bus.streams(), r.streamId, 'server', (type: FrameType) => {
        if (type === Frame.Ready) ready();
        if (type === Frame.StdinEnd) stopped = true;
      });
      const live: Array<{ stream: 'stdout' | 'stderr'; time: string; log: string }> = [];
      const onLine = (l: { stream: 'stdout' | 'stderr'; time: string; log: string }) => live.push(l);
      if (r.follow) log.on('line', onLine);
      void clientReady.then(async () => {
        const past = await log.read(filter);
        const lastTime = past.length ? (past[past.length - 1] as LogLine).time : '';
        for (const l of past) end.send(l.stream === 'stdout' ? Frame.Stdout : Frame.Stderr, format(l));
        if (r.follow) {
          const emit = (l: { stream: 'stdout' | 'stderr'; time: string; log: string }) => {
            if ((l.stream === 'stdout' && !r.stdout) || (l.stream === 'stderr' && !r.stderr)) return;
            end.send(l.stream === 'stdout' ? Frame.Stdout : Frame.Stderr, format({ ...l, line: l.log }));
          };
          for (const l of live.splice(0)) if (l.time > lastTime) emit(l);
          log.off('line', onLine);
          log.on('line', emit);
          while (!stopped && (this.runtime.isRunning(r.id) || this.runtime.all().find((x) => x.id === r.id)?.state === 'restarting')) await sleep(100);
          log.off('line', emit);
        }
        end.sendJson(Frame.Exit, { exitCode: 0 });
        end.close();
      });
      return { lines: [], truncated: false, streaming: true };
    }

    @HandleRequest(c.attach)
    async attach(r: ParsedRequestOf<C['attach']>) {
      await this.runtime.ready;
      const record = this.runtime.get(r.id);
      if (record.state !== 'running') throw new ConflictError(`container ${r.id} is not running`);
      const log = this.runtime.logOf(r.id);
      let ready = false;
      const end = new StreamEnd(this.bus.streams(), r.streamId, 'server', (type: FrameType, payload: Buffer) => {
        if (type === Frame.Ready) ready = true;
        else if (type === Frame.Stdin && r.stdin) this.runtime.writeStdin(r.id, payload);
      });
      const onLine = (l: { stream: 'stdout' | 'stderr'; log: string }) => ready && end.send(l.stream === 'stdout' ? Frame.Stdout : Frame.Stderr, l.log);
      log.on('line', onLine);
      void this.runtime.wait(r.id, 'not-running').then(({ exitCode }) => {
        log.off('line', onLine);
        end.sendJson(Frame.Exit, { exitCode });
        end.close();
      });
      return { tty: record.spec.tty };
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

    private usersOfImage(digest: string): string[] {
      return this.runtime.all().filter((x) => x.imageDigest === digest).map((x) => x.id);
    }
    @HandleRequest(c.pullImage)
    async pullImage(r: ParsedRequestOf<C['pullImage']>) {
      await this.runtime.ready;
      const image = await this.images.pull(r.reference, r.registryAuth);
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

    private usersOfVolume(name: string): string[] {
      return this.runtime.all().filter((x) => x.spec.volumes.some((v) => v.kind === 'volume' && v.source === name)).map((x) => x.id);
    }
    @HandleRequest(c.createVolume)
    async createVolume(r: ParsedRequestOf<C['createVolume']>) {
      await this.runtime.ready;
      return this.volumes.toInfo(await this.volumes.ensure(r.name, r.labels), this.usersOfVolume(r.name));
    }
    @HandleRequest(c.listVolumes)
    async listVolumes() {
      await this.runtime.ready;
      return { volumes: (await this.volumes.list()).map((v) => this.volumes.toInfo(v, this.usersOfVolume(v.name))) };
    }
    @HandleRequest(c.removeVolume)
    async removeVolume(r: ParsedRequestOf<C['removeVolume']>) {
      await this.runtime.ready;
      await this.volumes.remove(r.name, this.usersOfVolume(r.name), r.force);
      return { removed: true };
    }
  }
  return AgentController;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
