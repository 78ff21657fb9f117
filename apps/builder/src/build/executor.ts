import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BuildProgressEvent } from '@muelle/contracts';
import {
  ArgEnvScope,
  DockerfileError,
  DockerfileSemanticError,
  DockerfileSyntaxError,
  expandInstruction,
  exposedPortKeys,
  parseDockerfile,
  parseInstructions,
  parsePortSpec,
  resolveStages,
  type CommandLine,
  type Instruction,
  type ResolvedStage,
} from '@muelle/dockerfile';
import { DOCKER_DEFAULT_CAPABILITIES, HostFs, type CgroupDriver, type ContainerProcessSpec, type IsolationDriver } from '@muelle/isolation';
import { MediaType, applyLayer, type ContainerConfig, type HistoryEntry, type ImageConfig } from '@muelle/oci';
import { SourceTree, hashSources, type MatchedSource } from './context';
import { BuildFailedError } from './errors';
import { copyTree, diffTrees, layerFromUpperDir, mkdirInRoot, resolveInRoot } from './fs-tree';
import type { ImageTransfer } from './images';
import type { BuilderStore, StoredLayer } from './store';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const OUTPUT_CHUNK = 16 * 1024;
const LAST_OUTPUT_LINES = 20;

export interface BuildOptions {
  /** Directory holding the build context. */
  contextDir: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  sourceDateEpoch?: number;
  network: 'none' | 'host';
}

export interface BuildOutcome {
  config: ImageConfig;
  configBytes: Buffer;
  configDigest: string;
  manifestBytes: Buffer;
  manifestDigest: string;
  layers: StoredLayer[];
  steps: number;
  cachedSteps: number;
}

export interface ExecutorDeps {
  store: BuilderStore;
  images: ImageTransfer;
  isolation: IsolationDriver;
  /** Every RUN gets its own cgroup, destroyed (with anything left in it) when the step ends. */
  cgroups?: CgroupDriver;
  /** Reads the overlay opaque markers of RUN upper dirs; default: the native helper's. */
  hostFs?: HostFs;
}

/** Where a stage stands after each instruction. */
interface StageState {
  key: string;
  layers: StoredLayer[];
  config: ContainerConfig;
  base: Pick<ImageConfig, 'architecture' | 'os' | 'variant' | 'author'>;
  history: HistoryEntry[];
  scope: ArgEnvScope;
  shell: string[];
  cmdSetInStage: boolean;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Runs one build: parses the Dockerfile, executes the stages the target needs in order, and
 * returns the final image (config + manifest bytes; layer blobs are in the store). Each step is
 * keyed by its parent's key, the expanded instruction, the environment it sees and — for
 * COPY/ADD — the content of what it copies; a hit reuses the stored layer without running.
 */
export class BuildExecutor {
  private stepIndex = 0;
  private totalSteps = 0;
  private cachedSteps = 0;
  private readonly stageStates = new Map<number, StageState>();
  private context!: SourceTree;
  private escapeChar: '\\' | '`' = '\\';
  private runSequence = 0;
  private readonly stageIndexByName = new Map<string, number>();
  private readonly hostFs: HostFs;

  constructor(
    private readonly deps: ExecutorDeps,
    private readonly options: BuildOptions,
    private readonly emit: (event: BuildProgressEvent) => void,
    private readonly signal: AbortSignal,
    private readonly buildId: string,
  ) {
    this.hostFs = deps.hostFs ?? new HostFs();
  }

  async run(): Promise<BuildOutcome> {
    this.context = await SourceTree.context(this.options.contextDir);
    const text = await this.context.readFile(this.options.dockerfile);
    if (text === undefined) throw BuildFailedError.of('missing-source', `Dockerfile "${this.options.dockerfile}" not found in the build context`);

    let resolved;
    try {
      const parsed = parseDockerfile(text);
      this.escapeChar = parsed.directives.escape;
      resolved = resolveStages(parsed, { buildArgs: this.options.buildArgs, target: this.options.target });
    } catch (error) {
      throw asBuildError(error);
    }
    for (const stage of resolved.stages) if (stage.name) this.stageIndexByName.set(stage.name, stage.index);
    this.totalSteps = resolved.buildOrder.reduce((n, stage) => n + 1 + stage.stage.instructions.length, 0);

    let last: StageState | undefined;
    for (const stage of resolved.buildOrder) {
      last = await this.buildStage(stage, resolved.globalArgValues);
      this.stageStates.set(stage.index, last);
    }
    return this.finish(last as StageState);
  }

  private created(recorded?: string): string {
    if (this.options.sourceDateEpoch !== undefined) return new Date(this.options.sourceDateEpoch * 1000).toISOString().replace('.000Z', 'Z');
    return recorded ?? new Date().toISOString();
  }

  private checkCancelled(): void {
    if (this.signal.aborted) throw BuildFailedError.of('cancelled', 'the build was cancelled');
  }

  private startStep(stage: ResolvedStage, instruction: Instruction): number {
    this.checkCancelled();
    const index = ++this.stepIndex;
    if (index > this.totalSteps) this.totalSteps = index;
    this.emit({ type: 'step', index, total: this.totalSteps, stage: stage.displayName, instruction: instruction.original, line: instruction.line });
    return index;
  }

  // ---------------------------------------------------------------- stages

  private async buildStage(stage: ResolvedStage, globalArgs: Map<string, string>): Promise<StageState> {
    const from = stage.stage.from;
    const index = this.startStep(stage, from);
    const started = Date.now();
    let state: StageState;
    let triggers: string[] = [];
    if (stage.base.type === 'scratch') {
      state = this.freshState('scratch', [], {}, { architecture: 'amd64', os: 'linux' }, [], globalArgs);
    } else if (stage.base.type === 'stage') {
      const parent = this.stageStates.get(stage.base.stageIndex) as StageState;
      state = {
        ...parent,
        config: structuredClone(parent.config),
        history: [...parent.history],
        layers: [...parent.layers],
        scope: parent.scope.inheritForChildStage(),
        cmdSetInStage: false,
      };
      triggers = parent.config.OnBuild ?? [];
    } else {
      this.emit({ type: 'pulling', reference: stage.base.reference });
      const image = await this.deps.images.pull(stage.base.reference, from.line);
      const config = structuredClone(image.config.config ?? {});
      triggers = config.OnBuild ?? [];
      state = this.freshState(
        `image:${image.manifestDigest}`,
        image.layers,
        config,
        { architecture: image.config.architecture || 'amd64', os: image.config.os || 'linux', variant: image.config.variant, author: image.config.author },
        image.config.history ?? [],
        globalArgs,
      );
    }
    state.config.OnBuild = undefined;
    if (state.config.OnBuild === undefined) delete state.config.OnBuild;
    this.emit({ type: 'step-done', index, durationMs: Date.now() - started });

    for (const trigger of triggers) {
      let parsedTrigger: Instruction[];
      try {
        parsedTrigger = parseInstructions(trigger).instructions;
      } catch (error) {
        throw asBuildError(error);
      }
      for (const ins of parsedTrigger) state = await this.step(stage, state, { ...ins, line: from.line, original: ins.original });
    }
    for (const instruction of stage.stage.instructions) state = await this.step(stage, state, instruction);
    return state;
  }

  private freshState(
    key: string,
    layers: StoredLayer[],
    config: ContainerConfig,
    base: StageState['base'],
    history: HistoryEntry[],
    globalArgs: Map<string, string>,
  ): StageState {
    const scope = new ArgEnvScope({ buildArgs: this.options.buildArgs, globalArgValues: globalArgs, baseImageEnv: config.Env ?? [], escapeChar: this.escapeChar });
    return { key: sha256(key), layers: [...layers], config, base, history: [...history], scope, shell: config.Shell ?? DEFAULT_SHELL, cmdSetInStage: false };
  }

  // ---------------------------------------------------------------- steps

  private async step(stage: ResolvedStage, input: StageState, raw: Instruction): Promise<StageState> {
    const index = this.startStep(stage, raw);
    const started = Date.now();
    const state: StageState = { ...input, config: structuredClone(input.config), history: [...input.history], layers: [...input.layers] };
    const expand = <T extends Instruction>(ins: T): T => {
      try {
        return expandInstruction(ins, state.scope.lookup, this.escapeChar);
      } catch (error) {
        throw asBuildError(error);
      }
    };

    // Metadata instructions change only the config; their key still chains (every config field is
    // in the key), so a rebuild reuses their `created` and gives the same digest.
    let descriptor: unknown;
    let createdBy: string;
    let fsStep: (() => Promise<StoredLayer | undefined>) | undefined;
    const ins = raw;
    switch (ins.kind) {
      case 'ENV': {
        let pairs: Array<[string, string]>;
        try {
          pairs = state.scope.applyEnv(ins);
        } catch (error) {
          throw asBuildError(error);
        }
        state.config.Env = state.scope.imageEnv();
        descriptor = { ENV: pairs };
        createdBy = `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
        break;
      }
      case 'ARG': {
        try {
          state.scope.applyArg(ins);
        } catch (error) {
          throw asBuildError(error);
        }
        const values = ins.args.map((a) => [a.name, state.scope.lookup(a.name)]);
        descriptor = { ARG: values };
        createdBy = `ARG ${values.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(' ')}`;
        break;
      }
      case 'LABEL': {
        const e = expand(ins);
        state.config.Labels = { ...(state.config.Labels ?? {}) };
        for (const { key, value } of e.pairs) state.config.Labels[key] = value;
        descriptor = { LABEL: e.pairs };
        createdBy = `LABEL ${e.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
        break;
      }
      case 'MAINTAINER':
        state.base = { ...state.base, author: ins.maintainer };
        descriptor = { MAINTAINER: ins.maintainer };
        createdBy = `MAINTAINER ${ins.maintainer}`;
        break;
      case 'EXPOSE': {
        const e = expand(ins);
        state.config.ExposedPorts = { ...(state.config.ExposedPorts ?? {}) };
        for (const port of e.ports) for (const key of exposedPortKeys(parsePortSpec(port, ins.line))) state.config.ExposedPorts[key] = {};
        descriptor = { EXPOSE: e.ports };
        createdBy = `EXPOSE map[${e.ports.map((p) => `${p.includes('/') ? p : `${p}/tcp`}:{}`).join(' ')}]`;
        break;
      }
      case 'CMD':
        state.config.Cmd = this.commandArgs(ins.command, state.shell);
        state.cmdSetInStage = true;
        descriptor = { CMD: state.config.Cmd };
        createdBy = `CMD ${JSON.stringify(state.config.Cmd)}`;
        break;
      case 'ENTRYPOINT':
        state.config.Entrypoint = this.commandArgs(ins.command, state.shell);
        // An ENTRYPOINT resets a CMD inherited from the base (not one set in this stage).
        if (!state.cmdSetInStage) state.config.Cmd = null;
        descriptor = { ENTRYPOINT: state.config.Entrypoint, cmd: state.config.Cmd };
        createdBy = `ENTRYPOINT ${JSON.stringify(state.config.Entrypoint)}`;
        break;
      case 'SHELL':
        state.shell = ins.shell;
        state.config.Shell = ins.shell;
        descriptor = { SHELL: ins.shell };
        createdBy = `SHELL ${JSON.stringify(ins.shell)}`;
        break;
      case 'USER': {
        const e = expand(ins);
        state.config.User = e.user;
        descriptor = { USER: e.user };
        createdBy = `USER ${e.user}`;
        break;
      }
      case 'VOLUME': {
        const e = expand(ins);
        state.config.Volumes = { ...(state.config.Volumes ?? {}) };
        for (const volume of e.volumes) state.config.Volumes[volume] = {};
        descriptor = { VOLUME: e.volumes };
        createdBy = `VOLUME ${JSON.stringify(e.volumes)}`;
        break;
      }
      case 'STOPSIGNAL': {
        const e = expand(ins);
        state.config.StopSignal = e.signal;
        descriptor = { STOPSIGNAL: e.signal };
        createdBy = `STOPSIGNAL ${e.signal}`;
        break;
      }
      case 'HEALTHCHECK':
        if (ins.type === 'NONE') state.config.Healthcheck = { Test: ['NONE'] };
        else {
          const o = ins.options;
          state.config.Healthcheck = {
            Test: ins.test,
            ...(o.intervalNs && { Interval: o.intervalNs }),
            ...(o.timeoutNs && { Timeout: o.timeoutNs }),
            ...(o.startPeriodNs && { StartPeriod: o.startPeriodNs }),
            ...(o.startIntervalNs && { StartInterval: o.startIntervalNs }),
            ...(o.retries && { Retries: o.retries }),
          };
        }
        descriptor = { HEALTHCHECK: state.config.Healthcheck };
        createdBy = `HEALTHCHECK ${JSON.stringify(state.config.Healthcheck)}`;
        break;
      case 'ONBUILD':
        state.config.OnBuild = [...(state.config.OnBuild ?? []), ins.expression];
        descriptor = { ONBUILD: ins.expression };
        createdBy = `ONBUILD ${ins.expression}`;
        break;
      case 'WORKDIR': {
        const e = expand(ins);
        const dir = path.posix.resolve(state.config.WorkingDir || '/', e.path);
        state.config.WorkingDir = dir;
        descriptor = { WORKDIR: dir, user: state.config.User ?? '' };
        createdBy = `WORKDIR ${dir}`;
        fsStep = () => this.workdir(input, dir);
        break;
      }
      case 'RUN': {
        const args = this.runArgs(ins, state.shell);
        const env = this.runEnv(state);
        const network = ins.network === 'host' && this.options.network === 'host' ? 'host' : this.options.network;
        descriptor = { RUN: args, env, user: state.config.User ?? '', cwd: state.config.WorkingDir || '/', network };
        createdBy = `RUN ${args.join(' ')} # buildkit`;
        fsStep = () => this.runCommand(index, input, state, args, [...env, ...Object.entries(state.scope.proxyEnv()).map(([k, v]) => `${k}=${v}`)], network);
        break;
      }
      case 'COPY':
      case 'ADD': {
        const e = expand(ins);
        const copy = await this.prepareCopy(e, state);
        descriptor = { [ins.kind]: copy.describe, dest: e.destination, cwd: state.config.WorkingDir || '/', chown: e.chown ?? '', chmod: e.chmod ?? '' };
        createdBy = `${ins.kind} ${[...e.sources, ...e.heredocSources.map((h) => `<<${h.name}`)].join(' ')} ${e.destination} # buildkit`;
        fsStep = () => copy.execute(input);
        break;
      }
      case 'FROM':
        throw BuildFailedError.of('internal', `unexpected FROM at line ${ins.line}`);
    }

    const key = sha256(JSON.stringify({ parent: input.key, step: descriptor }));
    state.key = key;
    const cached = this.options.noCache ? undefined : await this.deps.store.getCache(key);
    let layer: StoredLayer | undefined;
    let created: string;
    if (cached) {
      this.cachedSteps++;
      this.emit({ type: 'cache-hit', index });
      layer = cached.layer;
      created = cached.created;
    } else {
      layer = fsStep ? await fsStep() : undefined;
      created = this.created();
      await this.deps.store.putCache(key, { layer, created });
    }
    if (layer) state.layers.push(layer);
    state.history.push({ created: this.created(created), created_by: createdBy, comment: 'buildkit.dockerfile.v0', ...(layer ? {} : { empty_layer: true }) });
    this.emit({ type: 'step-done', index, durationMs: Date.now() - started, ...(layer && { layer: layer.digest }) });
    return state;
  }

  private commandArgs(command: CommandLine, shell: string[]): string[] {
    return command.form === 'exec' ? command.args : [...shell, command.command];
  }

  private runArgs(ins: Extract<Instruction, { kind: 'RUN' }>, shell: string[]): string[] {
    if (ins.command.form === 'shell' && ins.heredocs.length > 0) {
      const only = /^\s*\d*<<-?\s*["']?([^"'\s]+)["']?\s*$/.exec(ins.command.command);
      const doc = ins.heredocs[0];
      if (only && ins.heredocs.length === 1 && doc && only[1] === doc.name) return [...shell, doc.content];
      throw BuildFailedError.of('dockerfile-syntax', `Dockerfile:${ins.line}: RUN with a heredoc is only supported as "RUN <<EOF" alone`, { line: ins.line });
    }
    return this.commandArgs(ins.command, shell);
  }

  private runEnv(state: StageState): string[] {
    const env = state.scope.runEnv();
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift(`PATH=${DEFAULT_PATH}`);
    return env;
  }

  // ---------------------------------------------------------------- file-system steps

  /**
   * Prepares a step that changes files: a copy of the parent's root file system in a work
   * directory, the change, then the diff against the parent (ctime marks what the step touched).
   * The work directory becomes the new state's snapshot.
   */
  private async changeFiles(parent: StageState, change: (root: string) => Promise<void>): Promise<StoredLayer | undefined> {
    const lower = await this.deps.store.snapshot(parent.layers);
    const work = await this.deps.store.workDir();
    try {
      await copyTree(lower, work);
      const since = await ctimeMarker(this.deps.store);
      await change(work);
      const entries = await diffTrees(lower, work, { changedSinceNs: since });
      if (entries.length === 0) return undefined;
      const layer = await this.deps.store.writeLayer(entries, this.options.sourceDateEpoch);
      await this.deps.store.adoptSnapshot(work, [...parent.layers, layer]);
      return layer;
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  private async workdir(parent: StageState, dir: string): Promise<StoredLayer | undefined> {
    const lower = await this.deps.store.snapshot(parent.layers);
    const existing = await fs.lstat(await resolveInRoot(lower, dir)).catch(() => undefined);
    if (existing?.isDirectory()) return undefined;
    return this.changeFiles(parent, async (root) => {
      await mkdirInRoot(root, dir);
    });
  }

  /**
   * RUN on an overlay: the parent's file system (RUN upper dirs stacked on a snapshot) as read-only
   * lower layers and a fresh upper dir, mounted by the helper inside the RUN container's own mount
   * namespace. The layer is read from the upper dir; nothing is copied or diffed, and the upper dir
   * is kept as a lower layer for the following RUN steps.
   */
  private async runCommand(index: number, parent: StageState, state: StageState, args: string[], env: string[], network: 'none' | 'host'): Promise<StoredLayer | undefined> {
    const lowerDirs = await this.deps.store.lowerDirs(parent.layers);
    const scratch = await this.deps.store.workDir();
    const [upper, work, root] = ['upper', 'work', 'root'].map((d) => path.join(scratch, d)) as [string, string, string];
    try {
      for (const dir of [upper, work, root]) await fs.mkdir(dir);
      // The upper dir's own attributes become those of `/` in the overlay: keep the parent's.
      const rootStat = await fs.stat(lowerDirs.at(-1) as string);
      await fs.chmod(upper, rootStat.mode & 0o7777);
      await fs.chown(upper, rootStat.uid, rootStat.gid);
      const user = state.config.User ? await resolveUser(await this.deps.store.snapshot(parent.layers), state.config.User) : { uid: 0, gid: 0 };
      await this.runIsolated(index, state, args, env, network, { rootfs: root, overlay: { lowerDirs, upperDir: upper, workDir: work } }, user);
      const opaque = new Set(await this.hostFs.opaqueDirectories(upper));
      const entries = await layerFromUpperDir(upper, opaque);
      if (entries.length === 0) return undefined;
      const layer = await this.deps.store.writeLayer(entries, this.options.sourceDateEpoch);
      await this.deps.store.adoptDiff(upper, [...parent.layers, layer]);
      return layer;
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  private async runIsolated(
    index: number,
    state: StageState,
    args: string[],
    env: string[],
    network: 'none' | 'host',
    root: Pick<ContainerProcessSpec, 'rootfs' | 'overlay'>,
    user: { uid: number; gid: number },
  ): Promise<void> {
    {
      const cgroupId = `muelle-build-${this.buildId}-${++this.runSequence}`;
      const cgroups = this.deps.cgroups;
      if (cgroups) await cgroups.create(cgroupId);
      const tail: string[] = [];
      let partial = '';
      const record = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
        const text = chunk.toString('utf8');
        for (let offset = 0; offset < text.length; offset += OUTPUT_CHUNK) this.emit({ type: 'output', index, stream, data: text.slice(offset, offset + OUTPUT_CHUNK) });
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        tail.push(...lines);
        if (tail.length > LAST_OUTPUT_LINES) tail.splice(0, tail.length - LAST_OUTPUT_LINES);
      };
      try {
        const process = await this.deps.isolation.run({
          ...root,
          args,
          env,
          cwd: state.config.WorkingDir || '/',
          user,
          hostname: 'buildkitsandbox',
          network: { mode: network },
          // Like a container: Docker's capabilities and seccomp filter; the device policy comes with the cgroup.
          capabilities: DOCKER_DEFAULT_CAPABILITIES,
          seccomp: 'default',
          cgroupPaths: cgroups ? cgroups.paths(cgroupId) : undefined,
          stdio: { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
        });
        const onAbort = () => process.signal('SIGKILL');
        this.signal.addEventListener('abort', onAbort);
        const drained = Promise.all([
          (async () => { for await (const c of process.stdout ?? []) record('stdout', c as Buffer); })(),
          (async () => { for await (const c of process.stderr ?? []) record('stderr', c as Buffer); })(),
        ]);
        const status = await process.wait();
        await drained;
        this.signal.removeEventListener('abort', onAbort);
        this.checkCancelled();
        if (partial) tail.push(partial);
        if (status.exitCode !== 0) {
          const ins = this.describeRun(args);
          throw BuildFailedError.of('run-failed', `${ins} returned a non-zero code: ${status.exitCode}${tail.length ? `\n${tail.slice(-5).join('\n')}` : ''}`, {
            exitCode: status.exitCode,
            lastOutput: tail.slice(-LAST_OUTPUT_LINES),
          });
        }
      } catch (error) {
        if (error instanceof BuildFailedError) throw error;
        throw BuildFailedError.of('run-failed', `${this.describeRun(args)} could not start: ${(error as Error).message}`, { exitCode: (error as { exitCode?: number }).exitCode });
      } finally {
        if (cgroups) await cgroups.destroy(cgroupId).catch(() => undefined);
      }
    }
  }

  private describeRun(args: string[]): string {
    return `the command '${args.join(' ')}'`;
  }

  private async prepareCopy(
    ins: Extract<Instruction, { kind: 'COPY' | 'ADD' }>,
    state: StageState,
  ): Promise<{ describe: unknown; execute: (parent: StageState) => Promise<StoredLayer | undefined> }> {
    const line = ins.line;
    let tree = this.context;
    let fromKey = 'context';
    const from = ins.kind === 'COPY' ? ins.from : undefined;
    if (from !== undefined) {
      const stageState = this.stageFor(from);
      if (stageState) {
        tree = SourceTree.filesystem(await this.deps.store.snapshot(stageState.layers));
        fromKey = `stage:${stageState.key}`;
      } else {
        this.emit({ type: 'pulling', reference: from });
        const image = await this.deps.images.pull(from, line);
        tree = SourceTree.filesystem(await this.deps.store.snapshot(image.layers));
        fromKey = `image:${image.manifestDigest}`;
      }
    }
    const fromContext = from === undefined;
    const matched: MatchedSource[] = [];
    const urls: Array<{ url: string; file: string; mtime: Date }> = [];
    for (const source of ins.sources) {
      if (ins.kind === 'ADD' && /^https?:\/\//.test(source)) urls.push(await this.download(source, line));
      else matched.push(...(await tree.match(source, line)));
    }
    const urlHashes = await Promise.all(urls.map(async (u) => ({ url: u.url, sha: await fileSha(u.file) })));
    const contentHash = await hashSources(matched, !fromContext);
    const heredocs = ins.heredocSources.map((h) => ({ name: h.name, content: h.content }));
    const describe = { from: fromKey, contentHash, urls: urlHashes, heredocs, sources: ins.sources };

    const execute = (parent: StageState) =>
      this.changeFiles(parent, async (root) => {
        const owner = ins.chown ? await resolveOwner(root, ins.chown, line) : undefined;
        const chmod = ins.chmod ? parseChmod(ins.chmod, line) : undefined;
        const workdir = state.config.WorkingDir || '/';
        const dest = path.posix.resolve(workdir, ins.destination);
        const count = matched.length + urls.length + heredocs.length;
        const destHost = await resolveInRoot(root, dest);
        const destStat = await fs.lstat(destHost).catch(() => undefined);
        const destIsDir = ins.destination.endsWith('/') || count > 1 || destStat?.isDirectory() === true || matched.some((m) => m.isDirectory);
        // Missing directories, as Docker's legacy builder makes them: a file (or URL, heredoc)
        // gives every directory it creates to --chown; a directory source creates them root-owned
        // and gives only a new destination to --chown; an archive ignores --chown.
        const makeFileParents = () => mkdirInRoot(root, destIsDir ? dest : path.posix.dirname(dest), owner);
        const makeDirectoryDestination = async () => {
          const existed = (await fs.lstat(await resolveInRoot(root, dest)).catch(() => undefined))?.isDirectory() === true;
          const hostPath = await mkdirInRoot(root, dest);
          if (owner && !existed) await fs.lchown(hostPath, owner.uid, owner.gid);
        };

        type Attrs = { uid: number; gid: number; mode?: number; mtime?: Date; kind: 'file' | 'dir' | 'symlink' };
        // The parent is resolved inside the root; the final name is never followed: whatever is
        // there is replaced, except a directory receiving a directory.
        const place = async (target: string, make: (hostPath: string) => Promise<void>, attrs: Attrs) => {
          const parentHost = await resolveInRoot(root, path.posix.dirname(target));
          const hostPath = path.join(parentHost, path.posix.basename(target));
          const existing = await fs.lstat(hostPath).catch(() => undefined);
          const keep = existing?.isDirectory() && attrs.kind === 'dir';
          if (existing && !keep) await fs.rm(hostPath, { recursive: true, force: true });
          if (!keep) await make(hostPath);
          await fs.lchown(hostPath, attrs.uid, attrs.gid);
          if (attrs.kind !== 'symlink' && attrs.mode !== undefined) await fs.chmod(hostPath, attrs.mode);
          if (attrs.mtime) await fs.lutimes(hostPath, attrs.mtime, attrs.mtime);
        };

        for (const source of matched) {
          const base = source.isDirectory ? dest : destIsDir ? path.posix.join(dest, source.name) : dest;
          // ADD of a local tar archive: extracted into the destination directory.
          if (ins.kind === 'ADD' && !source.isDirectory && ins.unpack !== false && (await isTarArchive(source.hostPath))) {
            const dir = await mkdirInRoot(root, dest);
            await applyLayer(dir, createReadStream(source.hostPath), { preserveOwnership: true });
            continue;
          }
          if (source.isDirectory) await makeDirectoryDestination();
          else await makeFileParents();
          for (const item of source.items) {
            if (source.isDirectory && item.relative === '') continue;
            const target = item.relative === '' ? base : path.posix.join(base, item.relative);
            const { stat } = item;
            const uid = owner?.uid ?? (fromContext ? 0 : stat.uid);
            const gid = owner?.gid ?? (fromContext ? 0 : stat.gid);
            const mode = chmod ?? stat.mode & 0o7777;
            if (stat.isDirectory()) {
              await place(target, (p) => fs.mkdir(p).then(() => undefined), { uid, gid, mode, mtime: stat.mtime, kind: 'dir' });
            } else if (stat.isSymbolicLink()) {
              const link = await fs.readlink(item.hostPath);
              await place(target, (p) => fs.symlink(link, p), { uid, gid, mtime: stat.mtime, kind: 'symlink' });
            } else if (stat.isFile()) {
              await place(target, (p) => fs.copyFile(item.hostPath, p), { uid, gid, mode, mtime: stat.mtime, kind: 'file' });
            }
          }
        }
        if (urls.length + heredocs.length > 0) await makeFileParents();
        for (const download of urls) {
          const name = path.posix.basename(new URL(download.url).pathname) || 'index.html';
          const target = destIsDir ? path.posix.join(dest, name) : dest;
          await place(target, (p) => fs.copyFile(download.file, p), { uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mode: chmod ?? 0o600, mtime: download.mtime, kind: 'file' });
        }
        for (const doc of heredocs) {
          const target = destIsDir ? path.posix.join(dest, doc.name) : dest;
          await place(target, (p) => fs.writeFile(p, doc.content), { uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mode: chmod ?? 0o644, kind: 'file' });
        }
      });
    return { describe, execute };
  }

  private stageFor(from: string): StageState | undefined {
    const index = /^\d+$/.test(from) ? Number(from) : this.stageIndexByName.get(from.toLowerCase());
    return index === undefined ? undefined : this.stageStates.get(index);
  }

  private async download(url: string, line: number): Promise<{ url: string; file: string; mtime: Date }> {
    const file = this.deps.store.tempPath('download');
    try {
      const response = await fetch(url, { signal: this.signal });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
      const lastModified = response.headers.get('last-modified');
      const mtime = lastModified ? new Date(lastModified) : new Date(0);
      return { url, file, mtime: Number.isNaN(mtime.getTime()) ? new Date(0) : mtime };
    } catch (error) {
      throw BuildFailedError.of('missing-source', `Dockerfile:${line}: ADD ${url} failed: ${(error as Error).message}`, { line });
    }
  }

  // ---------------------------------------------------------------- result

  private async finish(state: StageState): Promise<BuildOutcome> {
    const config: ImageConfig = {
      created: this.created(state.history.at(-1)?.created),
      ...(state.base.author !== undefined && { author: state.base.author }),
      architecture: state.base.architecture,
      os: state.base.os,
      ...(state.base.variant !== undefined && { variant: state.base.variant }),
      config: state.config,
      rootfs: { type: 'layers', diff_ids: state.layers.map((l) => l.diffId) },
      history: state.history,
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
    await this.deps.store.putBytes(configDigest, configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
      layers: state.layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`;
    return { config, configBytes, configDigest, manifestBytes, manifestDigest, layers: state.layers, steps: this.stepIndex, cachedSteps: this.cachedSteps };
  }
}

function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mediaType === MediaType.DockerLayerTar) return MediaType.OciLayerTar;
  return mediaType;
}

/** Maps parser errors to build failures carrying the position. */
export function asBuildError(error: unknown): Error {
  if (error instanceof BuildFailedError) return error;
  if (error instanceof DockerfileSyntaxError) {
    const kind = /unknown instruction/i.test(error.detail) ? 'unknown-instruction' : 'dockerfile-syntax';
    return BuildFailedError.of(kind, error.message, { line: error.line, column: error.column });
  }
  if (error instanceof DockerfileSemanticError) {
    const kind = /circular/i.test(error.detail) ? 'stage-cycle' : /could not be found|invalid stage|needs to be defined/i.test(error.detail) ? 'unknown-stage' : 'dockerfile-syntax';
    return BuildFailedError.of(kind, error.message, error.line === undefined ? {} : { line: error.line });
  }
  if (error instanceof DockerfileError) {
    const line = (error as { line?: number }).line;
    return BuildFailedError.of('dockerfile-syntax', error.message, line === undefined ? {} : { line });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** A marker file's ctime, taken after a pause longer than a coarse-clock tick: anything changed later has a ctime at or after it. */
async function ctimeMarker(store: BuilderStore): Promise<bigint> {
  await new Promise((r) => setTimeout(r, 25));
  const marker = store.tempPath('marker');
  await fs.writeFile(marker, '');
  const stat = await fs.stat(marker, { bigint: true });
  await fs.rm(marker, { force: true });
  return stat.ctimeNs;
}

async function fileSha(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function isTarArchive(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const header = Buffer.alloc(512);
    const { bytesRead } = await handle.read(header, 0, 512, 0);
    if (bytesRead >= 2 && header[0] === 0x1f && header[1] === 0x8b) return true;
    return bytesRead >= 262 && header.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await handle.close();
  }
}

function parseChmod(text: string, line: number): number {
  if (!/^[0-7]{3,4}$/.test(text)) throw BuildFailedError.of('dockerfile-syntax', `Dockerfile:${line}: invalid --chmod=${text} (octal mode expected)`, { line });
  return parseInt(text, 8);
}

async function readIdFile(root: string, file: string): Promise<string[][]> {
  const host = await resolveInRoot(root, file);
  const text = await fs.readFile(host, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

/** USER value → numeric ids from the root's /etc/passwd and /etc/group (as the runtime does). */
export async function resolveUser(root: string, user: string): Promise<{ uid: number; gid: number }> {
  if (user === '') return { uid: 0, gid: 0 };
  const [name = '', group] = user.split(':');
  const passwd = await readIdFile(root, '/etc/passwd');
  let uid: number;
  let gid: number;
  const entry = passwd.find((p) => p[0] === name);
  if (/^\d+$/.test(name)) {
    uid = Number(name);
    const byId = passwd.find((p) => p[2] === name);
    gid = byId ? Number(byId[3]) : 0;
  } else if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  } else throw BuildFailedError.of('run-failed', `unable to find user ${name}: no matching entries in passwd file`);
  if (group !== undefined) gid = await resolveGroup(root, group);
  return { uid, gid };
}

async function resolveGroup(root: string, group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const groups = await readIdFile(root, '/etc/group');
  const entry = groups.find((g) => g[0] === group);
  if (!entry) throw BuildFailedError.of('run-failed', `unable to find group ${group}: no matching entries in group file`);
  return Number(entry[2]);
}

/** `--chown=user[:group]`: a user without a group (name or id) gets the group with the same id as the user's uid. */
async function resolveOwner(root: string, chown: string, line: number): Promise<{ uid: number; gid: number }> {
  const [user = '', group] = chown.split(':');
  try {
    let uid: number;
    if (/^\d+$/.test(user)) uid = Number(user);
    else {
      const entry = (await readIdFile(root, '/etc/passwd')).find((p) => p[0] === user);
      if (!entry) throw new Error(`unable to find user ${user}`);
      uid = Number(entry[2]);
    }
    const gid = group === undefined ? uid : await resolveGroup(root, group);
    return { uid, gid };
  } catch (error) {
    throw BuildFailedError.of('missing-source', `Dockerfile:${line}: --chown=${chown}: ${(error as Error).message}`, { line });
  }
}
