import { freshRecord, touchedRecord } from './cache-rules';
import type { BuildProgressEvent } from '@muelle/contracts';
import { ArgEnvScope, parseDockerfile, parseInstructions, resolveStages, type Instruction, type ResolvedStage } from '@muelle/dockerfile';
import { hostPlatform, platformOfConfig } from '@muelle/images';
import type { ContainerConfig, HistoryEntry } from '@muelle/oci';
import { BuildSession, DEFAULT_SHELL, sha256, type BuildOptions, type ExecutorDeps, type StageState, type StepInput, type StepPlan } from './build-session';
import { SourceTree } from './context';
import { asBuildError, BuildFailedError } from './errors';
import * as configInstructions from './instructions/config-instructions';
import { copy } from './instructions/copy';
import { run } from './instructions/run';
import { workdir } from './instructions/workdir';
import { imageOf, type BuiltImage } from './layers';
import type { StoredLayer } from './store';

export type { BuildOptions, ExecutorDeps } from './build-session';

export interface BuildOutcome extends BuiltImage {
  layers: StoredLayer[];
  steps: number;
  cachedSteps: number;
}

type Handler<K extends Instruction['kind']> = (input: StepInput<Extract<Instruction, { kind: K }>>) => StepPlan | Promise<StepPlan>;

/** One handler per instruction (FROM starts a stage and is not a step). */
const HANDLERS: { [K in Exclude<Instruction['kind'], 'FROM'>]: Handler<K> } = {
  ENV: configInstructions.env,
  ARG: configInstructions.arg,
  LABEL: configInstructions.label,
  MAINTAINER: configInstructions.maintainer,
  EXPOSE: configInstructions.expose,
  CMD: configInstructions.cmd,
  ENTRYPOINT: configInstructions.entrypoint,
  SHELL: configInstructions.shell,
  USER: configInstructions.user,
  VOLUME: configInstructions.volume,
  STOPSIGNAL: configInstructions.stopSignal,
  HEALTHCHECK: configInstructions.healthcheck,
  ONBUILD: configInstructions.onBuild,
  WORKDIR: workdir,
  RUN: run,
  COPY: copy,
  ADD: copy,
};

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
  private readonly session: BuildSession;

  constructor(deps: ExecutorDeps, options: BuildOptions, emit: (event: BuildProgressEvent) => void, signal: AbortSignal, buildId: string) {
    this.session = new BuildSession(deps, options, emit, signal, buildId);
  }

  async run(): Promise<BuildOutcome> {
    try {
      return await this.runStages();
    } finally {
      this.session.lease.release();
    }
  }

  private async runStages(): Promise<BuildOutcome> {
    const { session } = this;
    session.context = await SourceTree.context(session.options.contextDir);
    const text = await session.context.readFile(session.options.dockerfile);
    if (text === undefined) throw BuildFailedError.of('missing-source', `Dockerfile "${session.options.dockerfile}" not found in the build context`);

    let resolved;
    try {
      const parsed = parseDockerfile(text);
      session.escapeChar = parsed.directives.escape;
      resolved = resolveStages(parsed, { buildArgs: session.options.buildArgs, target: session.options.target, targetPlatform: hostPlatform(), buildPlatform: hostPlatform() });
    } catch (error) {
      throw asBuildError(error);
    }
    for (const stage of resolved.stages) if (stage.name) session.stageIndexByName.set(stage.name, stage.index);
    this.totalSteps = resolved.buildOrder.reduce((n, stage) => n + 1 + stage.stage.instructions.length, 0);

    let last: StageState | undefined;
    for (const stage of resolved.buildOrder) {
      last = await this.buildStage(stage, resolved.globalArgValues);
      session.stageStates.set(stage.index, last);
    }
    const final = last as StageState;
    return { ...(await imageOf(session, final)), layers: final.layers, steps: this.stepIndex, cachedSteps: this.cachedSteps };
  }

  private startStep(stage: ResolvedStage, instruction: Instruction): number {
    this.session.checkCancelled();
    const index = ++this.stepIndex;
    if (index > this.totalSteps) this.totalSteps = index;
    this.session.emit({ type: 'step', index, total: this.totalSteps, stage: stage.displayName, instruction: instruction.original, line: instruction.line });
    return index;
  }

  private async buildStage(stage: ResolvedStage, globalArgs: Map<string, string>): Promise<StageState> {
    const from = stage.stage.from;
    const index = this.startStep(stage, from);
    const started = Date.now();
    let state: StageState;
    let triggers: string[] = [];
    if (stage.base.type === 'scratch') {
      state = this.freshState('scratch', [], {}, platformOfConfig(hostPlatform()), [], globalArgs);
    } else if (stage.base.type === 'stage') {
      const parent = this.session.stageStates.get(stage.base.stageIndex) as StageState;
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
      this.session.emit({ type: 'pulling', reference: stage.base.reference });
      const image = await this.session.deps.images.pull(stage.base.reference, from.line);
      for (const layer of image.layers) this.session.lease.holdDigest(layer.digest);
      const config = structuredClone(image.config.config ?? {});
      triggers = config.OnBuild ?? [];
      state = this.freshState(`image:${image.manifestDigest}`, image.layers, config, { ...platformOfConfig(image.config), author: image.config.author }, image.config.history ?? [], globalArgs);
    }
    state.config.OnBuild = undefined;
    if (state.config.OnBuild === undefined) delete state.config.OnBuild;
    this.session.emit({ type: 'step-done', index, durationMs: Date.now() - started });

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

  private freshState(key: string, layers: StoredLayer[], config: ContainerConfig, base: StageState['base'], history: HistoryEntry[], globalArgs: Map<string, string>): StageState {
    const { options, escapeChar } = this.session;
    const scope = new ArgEnvScope({ buildArgs: options.buildArgs, globalArgValues: globalArgs, baseImageEnv: config.Env ?? [], escapeChar });
    // Every later step's key chains from this one: the scope here keeps the whole chain in one team.
    return { key: sha256(`${options.cacheScope}\n${key}`), layers: [...layers], config, base, history: [...history], scope, shell: config.Shell ?? DEFAULT_SHELL, cmdSetInStage: false };
  }

  /** One instruction: its handler plans it, the cache answers or the plan's file change runs, history records it. */
  private async step(stage: ResolvedStage, parent: StageState, ins: Instruction): Promise<StageState> {
    const { session } = this;
    const index = this.startStep(stage, ins);
    const started = Date.now();
    const state: StageState = { ...parent, config: structuredClone(parent.config), history: [...parent.history], layers: [...parent.layers] };
    if (ins.kind === 'FROM') throw BuildFailedError.of('internal', `unexpected FROM at line ${ins.line}`);
    const handler = HANDLERS[ins.kind] as Handler<typeof ins.kind>;
    const plan = await handler({ ins, index, parent, state, session } as StepInput<never>);

    const key = sha256(JSON.stringify({ parent: parent.key, step: plan.descriptor }));
    state.key = key;
    // Held before the lookup: a prune from now on leaves this record and its blob alone.
    session.lease.holdKey(key);
    const { store } = session.deps;
    const cached = session.options.noCache ? undefined : await store.getCache(key);
    let layer: StoredLayer | undefined;
    let created: string;
    if (cached) {
      this.cachedSteps++;
      session.emit({ type: 'cache-hit', index });
      layer = cached.layer;
      created = cached.created;
      await store.putCache(key, touchedRecord(cached, new Date()));
    } else {
      layer = plan.fsStep ? await plan.fsStep() : undefined;
      created = session.created();
      await store.putCache(key, freshRecord({ layer, created, scope: session.options.cacheScope, parent: parent.key, description: ins.original }, new Date()));
    }
    if (layer) session.lease.holdDigest(layer.digest);
    if (layer) state.layers.push(layer);
    state.history.push({ created: session.created(created), created_by: plan.createdBy, comment: 'buildkit.dockerfile.v0', ...(layer ? {} : { empty_layer: true }) });
    session.emit({ type: 'step-done', index, durationMs: Date.now() - started, ...(layer && { layer: layer.digest }) });
    return state;
  }
}
