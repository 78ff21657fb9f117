import { createHash } from 'node:crypto';
import type { BuildProgressEvent } from '@muelle/contracts';
import { ArgEnvScope, expandInstruction, type CommandLine, type Instruction } from '@muelle/dockerfile';
import { HostFs, type CgroupDriver, type IsolationDriver } from '@muelle/isolation';
import type { ContainerConfig, HistoryEntry, ImageConfig } from '@muelle/oci';
import { SourceTree } from './context';
import { asBuildError, BuildFailedError } from './errors';
import type { ImageTransfer } from './images';
import type { BuilderStore, StoredLayer } from './store';
import type { CacheLease } from './cache-leases';
import type { UrlPolicy } from './url-fetch';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface BuildOptions {
  /** Directory holding the build context. */
  contextDir: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  target?: string;
  noCache: boolean;
  sourceDateEpoch?: number;
  network: 'none' | 'host';
  /**
   * Whose cached steps this build may reuse: the requesting team (`team:<id>`), or `system`. A
   * step's cache key is its instruction chained from its base image, not the bytes it made: a RUN
   * reused across teams would hand one team's output (network fetches, host-network builds) to
   * another, and a hit would tell who built what. SECURITY.md, "Build cache".
   */
  cacheScope: string;
}

export interface ExecutorDeps {
  store: BuilderStore;
  images: ImageTransfer;
  isolation: IsolationDriver;
  /** Every RUN gets its own cgroup, destroyed (with anything left in it) when the step ends. */
  cgroups?: CgroupDriver;
  /** Reads the overlay opaque markers of RUN upper dirs; default: the native helper's. */
  hostFs?: HostFs;
  /** Where `ADD <url>` may fetch from; default: no private ranges. */
  urlPolicy?: UrlPolicy;
}

/** Where a stage stands after each instruction. */
export interface StageState {
  key: string;
  layers: StoredLayer[];
  config: ContainerConfig;
  base: Pick<ImageConfig, 'architecture' | 'os' | 'variant' | 'author'>;
  history: HistoryEntry[];
  scope: ArgEnvScope;
  shell: string[];
  cmdSetInStage: boolean;
}

/**
 * What an instruction handler returns: the part of the cache key it adds, the history line, and
 * the file change to make when the key misses (none for instructions that only change config).
 */
export interface StepPlan {
  descriptor: unknown;
  createdBy: string;
  fsStep?: () => Promise<StoredLayer | undefined>;
}

/** One step as handlers see it: the stage before it (`parent`) and the copy they change (`state`). */
export interface StepInput<I extends Instruction = Instruction> {
  ins: I;
  index: number;
  parent: StageState;
  state: StageState;
  session: BuildSession;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function commandArgs(command: CommandLine, shell: string[]): string[] {
  return command.form === 'exec' ? command.args : [...shell, command.command];
}

/** What every step of one build shares: its dependencies, options, progress stream and the stages built so far. */
export class BuildSession {
  readonly stageStates = new Map<number, StageState>();
  readonly stageIndexByName = new Map<string, number>();
  readonly hostFs: HostFs;
  context!: SourceTree;
  escapeChar: '\\' | '`' = '\\';
  /** The cache keys and blobs this build uses, held until it ends (a prune skips them). */
  readonly lease: CacheLease;
  private runSequence = 0;

  constructor(
    readonly deps: ExecutorDeps,
    readonly options: BuildOptions,
    readonly emit: (event: BuildProgressEvent) => void,
    readonly signal: AbortSignal,
    readonly buildId: string,
  ) {
    this.hostFs = deps.hostFs ?? new HostFs();
    this.lease = deps.store.leases.open();
  }

  /** A cgroup name no other RUN step of any build uses. */
  nextRunCgroup(): string {
    return `muelle-build-${this.buildId}-${++this.runSequence}`;
  }

  checkCancelled(): void {
    if (this.signal.aborted) throw BuildFailedError.of('cancelled', 'the build was cancelled');
  }

  /** SOURCE_DATE_EPOCH when given, else what a cached step recorded, else now. */
  created(recorded?: string): string {
    if (this.options.sourceDateEpoch !== undefined) return new Date(this.options.sourceDateEpoch * 1000).toISOString().replace('.000Z', 'Z');
    return recorded ?? new Date().toISOString();
  }

  expand<T extends Instruction>(ins: T, state: StageState): T {
    try {
      return expandInstruction(ins, state.scope.lookup, this.escapeChar);
    } catch (error) {
      throw asBuildError(error);
    }
  }

  /** A stage by name or index (`COPY --from`), or undefined when `from` names an image. */
  stageFor(from: string): StageState | undefined {
    const index = /^\d+$/.test(from) ? Number(from) : this.stageIndexByName.get(from.toLowerCase());
    return index === undefined ? undefined : this.stageStates.get(index);
  }
}
