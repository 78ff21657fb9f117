import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { ByteReceiver, type ByteReceiverOptions, Frame, StreamEnd, type StreamTransport } from '@muelle/bus';
import { NotFoundError, SYSTEM_BUILD_REQUESTER, toMuelleError, UnavailableError, type BuildProgressEvent, type BuildRecord, type BuildResult, type StartBuildRequest } from '@muelle/contracts';
import type { CgroupDriver, IsolationDriver } from '@muelle/isolation';
import { applyLayer } from '@muelle/oci';
import type { Logger } from 'pino';
import { BuildFailedError } from '../dockerfile-build/errors';
import { BuildExecutor } from '../dockerfile-build/executor';
import { ImageTransfer } from '../dockerfile-build/images';
import type { BuilderStore } from '../dockerfile-build/store';
import { BuildCache } from '../dockerfile-build/build-cache';
import type { UrlPolicy } from '../dockerfile-build/url-fetch';
import type { BuildMetrics } from './build-metrics';
import type { BuildRecordSink } from './build-records';

type ParsedStart = Required<Omit<StartBuildRequest, 'target' | 'sourceDateEpoch' | 'progressStreamId' | 'requestedBy'>> & Pick<StartBuildRequest, 'target' | 'sourceDateEpoch' | 'progressStreamId' | 'requestedBy'>;

export interface BuildsServiceDeps {
  store: BuilderStore;
  isolation: IsolationDriver;
  cgroups?: CgroupDriver;
  /** Streamed contexts: fail after this long without a byte, or past this size. */
  contextLimits?: ByteReceiverOptions;
  /** Called per build (the bus connects after the module is built). */
  streams?: () => StreamTransport;
  defaultRegistry: string;
  insecureRegistries: string[];
  /** Where `ADD <url>` may fetch from. */
  urlPolicy: UrlPolicy;
  /** Keeps records beyond this process (metadata); without it (tests) they live in memory only. */
  records?: BuildRecordSink;
  /** Counts outcomes for /metrics (absent in tests that do not look). */
  metrics?: BuildMetrics;
  logger: Logger;
}

const KEEP_FINISHED = 200;
const DEFAULT_CONTEXT_LIMITS: ByteReceiverOptions = { idleTimeoutMs: 60_000, maxBytes: 2 * 1024 * 1024 * 1024 };

/** Runs builds in the background, records them (memory and `records`) and streams their progress. */
export class BuildsService {
  private readonly records = new Map<string, BuildRecord>();
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();

  /** This builder's step cache, listed and pruned per scope (build-cache.controller.ts). */
  readonly cache: BuildCache;

  constructor(private readonly deps: BuildsServiceDeps) {
    this.cache = new BuildCache(deps.store);
  }

  /** The builder instance answering (its records' id), when it keeps records. */
  get builderId(): string | undefined {
    return this.deps.records?.builderId;
  }

  start(request: ParsedStart): { buildId: string; startedAt: string; builderId?: string } {
    const buildId = randomBytes(8).toString('hex');
    const startedAt = new Date().toISOString();
    const requester = request.requestedBy ?? SYSTEM_BUILD_REQUESTER;
    this.records.set(buildId, { id: buildId, state: 'running', tags: request.tags, requestedBy: requester.username, teamId: requester.teamId, startedAt });
    const abort = new AbortController();
    const done = this.execute(buildId, request, abort.signal);
    this.running.set(buildId, { abort, done });
    void done.finally(() => this.running.delete(buildId));
    this.prune();
    const builderId = this.deps.records?.builderId;
    return { buildId, startedAt, ...(builderId ? { builderId } : {}) };
  }

  /** Starts a build and waits for it (tests, benchmarks). */
  async run(request: ParsedStart, onEvent?: (event: BuildProgressEvent) => void): Promise<BuildRecord> {
    const { buildId } = this.start(request);
    if (onEvent) this.listeners.set(buildId, onEvent);
    await this.running.get(buildId)?.done;
    this.listeners.delete(buildId);
    return this.get(buildId);
  }
  private readonly listeners = new Map<string, (event: BuildProgressEvent) => void>();

  get(buildId: string): BuildRecord {
    const record = this.records.get(buildId);
    if (!record) throw new NotFoundError(`build ${buildId} not found`);
    return record;
  }

  async cancel(buildId: string): Promise<BuildRecord> {
    const record = this.get(buildId);
    const running = this.running.get(buildId);
    if (running) {
      running.abort.abort();
      await running.done;
    }
    return this.records.get(buildId) ?? record;
  }

  /** Waits for running builds (shutdown). */
  async drain(): Promise<void> {
    for (const { abort } of this.running.values()) abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async execute(buildId: string, request: ParsedStart, signal: AbortSignal): Promise<void> {
    const started = Date.now();
    let receiver: ByteReceiver | undefined;
    const stream = request.progressStreamId && this.deps.streams ? new StreamEnd(this.deps.streams(), request.progressStreamId, 'server', (type, payload) => receiver?.onFrame(type, payload)) : undefined;
    const emit = (event: BuildProgressEvent) => {
      stream?.sendJson(Frame.Stdout, event);
      this.listeners.get(buildId)?.(event);
    };
    let contextDir: string | undefined;
    let ownContext = false;
    // The streamed context goes before the outcome is sent: a client that saw the end finds no scratch left.
    const removeContext = async () => {
      if (ownContext && contextDir) await fs.rm(contextDir, { recursive: true, force: true });
    };
    try {
      // Let the accept reply go out first.
      await new Promise((resolve) => setImmediate(resolve));
      await this.deps.records?.save(this.get(buildId)).catch((error: Error) => {
        throw new UnavailableError(`the build could not be recorded in metadata: ${error.message}`);
      });
      if (request.context.kind === 'directory') contextDir = request.context.path;
      else {
        if (!stream) throw BuildFailedError.of('missing-source', 'a streamed context needs a progress stream');
        contextDir = await this.deps.store.workDir();
        ownContext = true;
        const tar = `${contextDir}.tar`;
        try {
          receiver = new ByteReceiver(stream, createWriteStream(tar, { mode: 0o600 }), this.deps.contextLimits ?? DEFAULT_CONTEXT_LIMITS);
          await receiver.done.catch((error: Error) => {
            throw BuildFailedError.of('missing-source', `the build context did not arrive: ${error.message}`);
          });
          await applyLayer(contextDir, createReadStream(tar), { preserveOwnership: false });
        } finally {
          await fs.rm(tar, { force: true });
        }
      }
      const images = new ImageTransfer(this.deps.store, {
        defaultRegistry: this.deps.defaultRegistry,
        credentials: request.registryCredentials,
        insecureRegistries: this.deps.insecureRegistries,
      });
      const executor = new BuildExecutor(
        { store: this.deps.store, images, isolation: this.deps.isolation, cgroups: this.deps.cgroups, urlPolicy: this.deps.urlPolicy },
        {
          contextDir,
          dockerfile: request.dockerfile,
          buildArgs: request.buildArgs,
          target: request.target,
          noCache: request.noCache,
          sourceDateEpoch: request.sourceDateEpoch,
          network: request.network,
          cacheScope: cacheScopeOf(request.requestedBy ?? SYSTEM_BUILD_REQUESTER),
        },
        emit,
        signal,
        buildId,
      );
      const outcome = await executor.run();
      const pushed: BuildResult['pushed'] = [];
      for (const tag of request.tags) {
        if (signal.aborted) throw BuildFailedError.of('cancelled', 'the build was cancelled');
        emit({ type: 'pushing', reference: tag });
        const digest = await images.push(tag, outcome.layers, { digest: outcome.configDigest, bytes: outcome.configBytes }, { digest: outcome.manifestDigest, bytes: outcome.manifestBytes });
        pushed.push({ reference: tag, digest });
        emit({ type: 'pushed', reference: tag, digest });
      }
      const result: BuildResult = {
        buildId,
        digest: outcome.manifestDigest,
        configDigest: outcome.configDigest,
        pushed,
        steps: outcome.steps,
        cachedSteps: outcome.cachedSteps,
        durationMs: Date.now() - started,
      };
      await this.finish({ ...this.get(buildId), state: 'succeeded', finishedAt: new Date().toISOString(), result });
      await removeContext();
      stream?.sendJson(Frame.Exit, result);
    } catch (error) {
      const typed = error instanceof BuildFailedError ? error : toMuelleError(error);
      if (!(error instanceof BuildFailedError)) this.deps.logger.error({ err: error, buildId }, 'build failed unexpectedly');
      const details = error instanceof BuildFailedError ? error.failure : { kind: 'internal' as const };
      await this.finish({
        ...this.get(buildId),
        state: details.kind === 'cancelled' ? 'cancelled' : 'failed',
        finishedAt: new Date().toISOString(),
        error: { code: typed.code, message: typed.message, details },
      });
      await removeContext();
      stream?.sendJson(Frame.Error, { code: typed.code, message: typed.message, details });
    } finally {
      stream?.close();
      await removeContext();
    }
  }

  private async finish(record: BuildRecord): Promise<void> {
    this.records.set(record.id, record);
    this.deps.metrics?.finished(record);
    await this.deps.records?.save(record).catch((error: unknown) => {
      // Metadata is away (restarting): the outcome still reaches the caller and is saved in the
      // background, so a build the client saw succeed is not marked interrupted at our next start.
      this.deps.logger.warn({ err: error, buildId: record.id, state: record.state }, 'the build outcome could not be recorded in metadata yet; retrying');
      void this.saveLater(record, 1_000, 1);
    });
  }

  /** Retries an outcome's save with back-off for a few minutes; past that the record says `running` until this builder's next start marks it failed. */
  private async saveLater(record: BuildRecord, delayMs: number, attempt: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
    try {
      await this.deps.records?.save(record);
    } catch (error) {
      if (attempt >= 30) return void this.deps.logger.error({ err: error, buildId: record.id, state: record.state }, 'the build outcome could not be recorded in metadata');
      return this.saveLater(record, Math.min(delayMs * 2, 10_000), attempt + 1);
    }
  }

  private prune(): void {
    const finished = [...this.records.values()].filter((r) => r.state !== 'running');
    for (const record of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.records.delete(record.id);
  }
}


/** The build cache is per team (BuildOptions.cacheScope): teamless builds (system, admins without a team) share one scope. */
export function cacheScopeOf(requester: { teamId: string | null }): string {
  return requester.teamId ? `team:${requester.teamId}` : 'system';
}
