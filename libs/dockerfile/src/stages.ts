import { DockerfileSemanticError, ExpansionError } from './errors';
import { expand } from './expand';
import { DEFAULT_PLATFORM, isBuiltinBuildArg, parsePlatform, platformArgs, type Platform } from './platform';
import { parseRunMount } from './run-mount';
import type { Instruction, ParsedDockerfile, Stage } from './types';

export interface ResolveOptions {
  /** `--build-arg` values. */
  buildArgs?: Readonly<Record<string, string>>;
  /** `--target`: stage name; default is the last stage. */
  target?: string;
  /** Platform being built for; default this host's. */
  targetPlatform?: Platform;
  /** Platform the build runs on; default this host's. */
  buildPlatform?: Platform;
}

export type StageBase =
  | { type: 'scratch' }
  | { type: 'image'; reference: string }
  | { type: 'stage'; stageIndex: number };

export interface StageDependency {
  stageIndex: number;
  via: 'FROM' | 'COPY --from' | 'RUN --mount' | 'ONBUILD';
  line: number;
}

export interface ExternalImageReference {
  reference: string;
  via: 'COPY --from' | 'RUN --mount';
  line: number;
}

export interface ResolvedStage {
  index: number;
  name?: string;
  /** `name`, or `stage-<index>` for unnamed stages (what BuildKit prints). */
  displayName: string;
  stage: Stage;
  /** The base name after ARG substitution (`alpine:3.20`, `scratch`, a stage name). */
  baseName: string;
  base: StageBase;
  /** `--platform` after ARG substitution. */
  platform?: Platform;
  /** Stages this one needs, each once (its base first). */
  dependsOn: StageDependency[];
  /** Images read by `COPY --from=<image>` or `RUN --mount=from=<image>`. */
  externalImages: ExternalImageReference[];
}

export interface ResolvedBuild {
  /** Global ARG values (build args applied) plus the platform ARGs: the environment of FROM lines. */
  globalArgValues: Map<string, string>;
  stages: ResolvedStage[];
  target: ResolvedStage;
  /** The minimal set of stages the target needs, in Dockerfile order (the target last). */
  buildOrder: ResolvedStage[];
  /** Build args no global ARG and no ARG of a built stage declares (builtin ones excluded). */
  unusedBuildArgs: string[];
}

/**
 * Resolves FROM lines against global ARGs and build args, links stages to each other
 * (FROM <stage>, COPY --from, RUN --mount=from, ONBUILD triggers of a base stage),
 * rejects cycles and bad references, and picks the stages the target needs.
 */
export function resolveStages(parsed: ParsedDockerfile, options: ResolveOptions = {}): ResolvedBuild {
  const buildArgs = options.buildArgs ?? {};
  const escapeChar = parsed.directives.escape;
  const hasBuildArg = (name: string): boolean => Object.prototype.hasOwnProperty.call(buildArgs, name);

  const globalArgValues = new Map(Object.entries(platformArgs(options.targetPlatform ?? DEFAULT_PLATFORM, options.buildPlatform ?? DEFAULT_PLATFORM)));
  const declaredGlobals = new Set<string>();
  for (const instruction of parsed.globalArgs) {
    for (const arg of instruction.args) {
      declaredGlobals.add(arg.name);
      let value: string | undefined;
      if (hasBuildArg(arg.name)) value = buildArgs[arg.name];
      else if (arg.defaultValue !== undefined) value = expandAt(arg.defaultValue, globalArgValues, instruction.line, escapeChar);
      if (value !== undefined) globalArgValues.set(arg.name, value);
    }
  }

  const byName = new Map<string, number>();
  parsed.stages.forEach((stage) => stage.name !== undefined && byName.set(stage.name, stage.index));

  const resolved: ResolvedStage[] = parsed.stages.map((stage) => {
    const from = stage.from;
    const baseName = expandAt(from.image, globalArgValues, from.line, escapeChar);
    if (baseName === '') throw new DockerfileSemanticError(`base name (${from.image}) should not be blank`, from.line);

    let platform: Platform | undefined;
    if (from.platform !== undefined) {
      const text = expandAt(from.platform, globalArgValues, from.line, escapeChar);
      if (text === '') throw new DockerfileSemanticError(`empty platform value from expression ${from.platform}`, from.line);
      platform = parsePlatform(text) ?? undefined;
      if (!platform) throw new DockerfileSemanticError(`failed to parse platform ${text}`, from.line);
    }

    // FROM may only name an earlier stage; anything else is an image.
    const baseIndex = byName.get(baseName);
    let base: StageBase;
    if (baseIndex !== undefined && baseIndex < stage.index) base = { type: 'stage', stageIndex: baseIndex };
    else if (baseName === 'scratch') base = { type: 'scratch' };
    else base = { type: 'image', reference: baseName };

    return {
      index: stage.index,
      ...(stage.name === undefined ? {} : { name: stage.name }),
      displayName: stage.name ?? `stage-${stage.index}`,
      stage,
      baseName,
      base,
      ...(platform ? { platform } : {}),
      dependsOn: [],
      externalImages: [],
    };
  });

  for (const current of resolved) linkDependencies(current, resolved, byName);
  rejectCycles(resolved);

  let target = resolved[resolved.length - 1];
  if (options.target !== undefined) {
    const index = byName.get(options.target.toLowerCase());
    if (index === undefined) {
      const names = [...byName.keys()];
      throw new DockerfileSemanticError(
        `target stage ${JSON.stringify(options.target)} could not be found${names.length ? ` (stages: ${names.join(', ')})` : ''}`,
      );
    }
    target = resolved[index];
  }

  const needed = new Set<number>();
  const visit = (stage: ResolvedStage): void => {
    if (needed.has(stage.index)) return;
    needed.add(stage.index);
    for (const dependency of stage.dependsOn) visit(resolved[dependency.stageIndex]);
  };
  visit(target);
  const buildOrder = resolved.filter((stage) => needed.has(stage.index));

  for (const stage of buildOrder) {
    for (const dependency of stage.dependsOn) {
      if (dependency.via !== 'FROM' && dependency.stageIndex >= stage.index) {
        throw new DockerfileSemanticError(
          `cannot copy from stage ${JSON.stringify(resolved[dependency.stageIndex].displayName)}, it needs to be defined before current stage ${JSON.stringify(stage.displayName)}`,
          dependency.line,
        );
      }
    }
  }

  const declaredInBuild = new Set(declaredGlobals);
  for (const stage of buildOrder) {
    for (const instruction of withTriggers(stage.stage.instructions)) {
      if (instruction.kind === 'ARG') instruction.args.forEach((arg) => declaredInBuild.add(arg.name));
    }
  }
  const unusedBuildArgs = Object.keys(buildArgs).filter((name) => !declaredInBuild.has(name) && !isBuiltinBuildArg(name));

  return { globalArgValues, stages: resolved, target, buildOrder, unusedBuildArgs };
}

function expandAt(word: string, env: Map<string, string>, line: number, escapeChar: '\\' | '`'): string {
  try {
    return expand(word, env, { escapeChar });
  } catch (error) {
    if (error instanceof ExpansionError) throw error.atLine(line);
    throw error;
  }
}

/** The instructions plus the triggers inside ONBUILD (they can reference stages too). */
function withTriggers(instructions: readonly Instruction[]): Instruction[] {
  return instructions.flatMap((instruction) => (instruction.kind === 'ONBUILD' ? [instruction, instruction.trigger] : [instruction]));
}

function linkDependencies(current: ResolvedStage, all: ResolvedStage[], byName: Map<string, number>): void {
  const seen = new Set<number>();
  const addStage = (stageIndex: number, via: StageDependency['via'], line: number): void => {
    if (seen.has(stageIndex)) return;
    seen.add(stageIndex);
    current.dependsOn.push({ stageIndex, via, line });
  };

  if (current.base.type === 'stage') addStage(current.base.stageIndex, 'FROM', current.stage.from.line);

  const reference = (from: string, via: 'COPY --from' | 'RUN --mount', line: number, allowIndex: boolean): void => {
    if (allowIndex && /^[+-]?\d+$/.test(from)) {
      const index = Number(from);
      if (index < 0 || index >= all.length) throw new DockerfileSemanticError(`invalid stage index ${index} in --from=${from}`, line);
      addStage(index, via, line);
      return;
    }
    const named = byName.get(from.toLowerCase());
    if (named !== undefined) addStage(named, via, line);
    else if (from !== 'context' && from !== 'scratch') current.externalImages.push({ reference: from, via, line });
  };

  const scan = (instructions: readonly Instruction[], viaOnbuild: boolean): void => {
    for (const instruction of instructions) {
      const ins = instruction.kind === 'ONBUILD' ? undefined : instruction;
      if (!ins) continue;
      if (ins.kind === 'COPY' && ins.from !== undefined) {
        if (expand(ins.from, () => undefined, { escapeChar: '\\' }) !== ins.from) {
          throw new DockerfileSemanticError(
            'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
            ins.line,
          );
        }
        if (viaOnbuild) {
          const before = current.dependsOn.length;
          reference(ins.from, 'COPY --from', ins.line, true);
          if (current.dependsOn.length > before) current.dependsOn[current.dependsOn.length - 1].via = 'ONBUILD';
        } else {
          reference(ins.from, 'COPY --from', ins.line, true);
        }
      }
      if (ins.kind === 'RUN') {
        for (const spec of ins.mounts) {
          const mount = parseRunMount(spec, { line: ins.line });
          if (mount.from !== undefined) reference(mount.from, 'RUN --mount', ins.line, false);
        }
      }
    }
  };

  scan(current.stage.instructions, false);
  // ONBUILD triggers of a base stage run at the start of this stage.
  if (current.base.type === 'stage') {
    const triggers = all[current.base.stageIndex].stage.instructions.flatMap((instruction) =>
      instruction.kind === 'ONBUILD' ? [{ ...instruction.trigger, line: current.stage.from.line }] : [],
    );
    scan(triggers, true);
  }
}

function rejectCycles(stages: ResolvedStage[]): void {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (stage: ResolvedStage): void => {
    state.set(stage.index, 'visiting');
    for (const dependency of stage.dependsOn) {
      const mark = state.get(dependency.stageIndex);
      if (mark === 'visiting') {
        throw new DockerfileSemanticError(
          `circular dependency detected on stage: ${stages[dependency.stageIndex].displayName}`,
          dependency.line,
        );
      }
      if (mark === undefined) visit(stages[dependency.stageIndex]);
    }
    state.set(stage.index, 'done');
  };
  for (const stage of stages) if (!state.has(stage.index)) visit(stage);
}
