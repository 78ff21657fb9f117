import { Inject, Injectable } from '@nestjs/common';
import { MuelleError, NotFoundError } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import type { Logger } from 'pino';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService, ContainerView } from '../containers/containers.service';
import type { StreamSession } from '../containers/stream-session';
import { DOCKER_AUTO_REMOVE_LABEL } from './containers.mapping';

type StartListener = (principal: RequestPrincipal, startRequestedAt: string) => void;
const OUTPUT_DRAIN_LIMIT_MS = 10_000;
const REMOVED_POLL_MS = 500;

/**
 * State the Docker API keeps between its requests on this api process: `docker run` attaches
 * before it starts (so attach waits here for the start), resizes name a session opened by another
 * request, and `--rm` containers are removed once their exit was seen and their output was sent.
 */
@Injectable()
export class DockerSessions {
  private readonly waitingForStart = new Map<string, Set<StartListener>>();
  private readonly resizable = new Map<string, Set<StreamSession>>();
  private readonly outputs = new Map<string, Set<Promise<void>>>();
  private readonly removals = new Map<string, { promise: Promise<number>; resolve(code: number): void; reject(error: Error): void }>();

  constructor(
    private readonly containers: ContainersService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Runs `listener` when this container is next started through the Docker API; returns a cancel function. */
  onNextStart(containerId: string, listener: StartListener): () => void {
    const set = this.waitingForStart.get(containerId) ?? new Set();
    set.add(listener);
    this.waitingForStart.set(containerId, set);
    return () => {
      set.delete(listener);
      if (!set.size) this.waitingForStart.delete(containerId);
    };
  }

  /** Called after a successful start: wakes attaches and arranges `--rm`. */
  started(principal: RequestPrincipal, view: ContainerView, startRequestedAt: string): void {
    const listeners = this.waitingForStart.get(view.id);
    this.waitingForStart.delete(view.id);
    for (const listener of listeners ?? []) listener(principal, startRequestedAt);
    if (view.spec.labels[DOCKER_AUTO_REMOVE_LABEL] === 'true') void this.removeAfterExit(principal, view.id);
  }

  /** Output being streamed to a client; `--rm` removal waits for it (bounded). */
  trackOutput(containerId: string, done: Promise<void>): void {
    const set = this.outputs.get(containerId) ?? new Set();
    set.add(done);
    this.outputs.set(containerId, set);
    void done.finally(() => {
      set.delete(done);
      if (!set.size) this.outputs.delete(containerId);
    });
  }

  addResizable(key: string, session: StreamSession): () => void {
    const set = this.resizable.get(key) ?? new Set();
    set.add(session);
    this.resizable.set(key, set);
    return () => {
      set.delete(session);
      if (!set.size) this.resizable.delete(key);
    };
  }

  /** True when a live session took the size. */
  resize(key: string, rows: number, cols: number): boolean {
    const set = this.resizable.get(key);
    for (const session of set ?? []) session.resize(rows, cols);
    return !!set?.size;
  }

  /** `wait?condition=removed`: resolves with the exit code once the container is gone. */
  async waitRemoved(principal: RequestPrincipal, view: ContainerView): Promise<number> {
    if (view.spec.labels[DOCKER_AUTO_REMOVE_LABEL] === 'true') return this.removal(view.id).promise;
    const { exitCode } = await this.containers.wait(principal, view.id, view.state === 'created' ? 'next-exit' : 'not-running');
    for (;;) {
      try {
        await this.containers.get(principal, view.id);
      } catch (error) {
        if (error instanceof NotFoundError || (error instanceof MuelleError && error.code === 'NOT_FOUND')) return exitCode;
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, REMOVED_POLL_MS));
    }
  }

  private removal(id: string) {
    let entry = this.removals.get(id);
    if (!entry) {
      let resolve!: (code: number) => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<number>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined); // its outcome goes to whoever awaits the removal; none may
      entry = { promise, resolve, reject };
      this.removals.set(id, entry);
    }
    return entry;
  }

  private async removeAfterExit(principal: RequestPrincipal, id: string): Promise<void> {
    const entry = this.removal(id);
    try {
      const { exitCode } = await this.containers.wait(principal, id, 'not-running');
      const pending = [...(this.outputs.get(id) ?? [])];
      await Promise.race([Promise.allSettled(pending), new Promise((resolve) => setTimeout(resolve, OUTPUT_DRAIN_LIMIT_MS))]);
      await this.containers.remove(principal, id, true).catch((error) => {
        if (!(error instanceof MuelleError && error.code === 'NOT_FOUND')) throw error;
      });
      entry.resolve(exitCode);
    } catch (error) {
      this.logger.warn({ err: error, container: id }, 'auto-remove failed');
      entry.reject(error as Error);
    } finally {
      setTimeout(() => this.removals.delete(id), 60_000).unref();
    }
  }
}
