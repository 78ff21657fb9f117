import { Controller, Inject, Injectable } from '@nestjs/common';
import { BusClient, HandleEvent } from '@muelle/bus';
import { dockerSessionSignal, MuelleError, NotFoundError, PayloadOf } from '@muelle/contracts';
import { LOGGER } from '@muelle/service-kit';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RequestPrincipal } from '../auth/principal';
import { ContainersService, ContainerView } from '../containers/containers.service';
import type { StreamSession } from '../containers/stream-session';
import { DOCKER_AUTO_REMOVE_LABEL } from './containers.mapping';

/** `starter`: who started it, when the start came through this replica (else the listener uses its own principal). */
type StartListener = (starter: RequestPrincipal | undefined, startRequestedAt: string) => void;
const OUTPUT_DRAIN_LIMIT_MS = 10_000;
const REMOVED_POLL_MS = 500;

/**
 * State the Docker API keeps between its requests on this api process: `docker run` attaches
 * before it starts (so attach waits here for the start), resizes name a session opened by another
 * request, and `--rm` containers are removed once their exit was seen and their output was sent.
 * Behind a load balancer those requests may reach different replicas: starts and resizes are
 * also signalled over the bus to every replica (dockerSessionSignal), and a wait for removal
 * that did not see the start here follows the container's record instead.
 */
@Injectable()
export class DockerSessions {
  private readonly waitingForStart = new Map<string, Set<StartListener>>();
  private readonly resizable = new Map<string, Set<StreamSession>>();
  private readonly outputs = new Map<string, Set<Promise<void>>>();
  private readonly removals = new Map<string, { promise: Promise<number>; resolve(code: number): void; reject(error: Error): void }>();
  /** This replica, in the signals it sends (it ignores its own). */
  private readonly origin = randomUUID();

  constructor(
    private readonly containers: ContainersService,
    private readonly bus: BusClient,
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
  async started(principal: RequestPrincipal, view: ContainerView, startRequestedAt: string): Promise<void> {
    this.wakeAttaches(view.id, principal, startRequestedAt);
    if (view.spec.labels[DOCKER_AUTO_REMOVE_LABEL] === 'true') void this.removeAfterExit(principal, view.id);
    await this.signal({ kind: 'started', origin: this.origin, containerId: view.id, startRequestedAt });
  }

  /** A start or resize that reached another replica. */
  onSignal(signal: PayloadOf<typeof dockerSessionSignal>): void {
    if (signal.origin === this.origin) return;
    if (signal.kind === 'started') this.wakeAttaches(signal.containerId, undefined, signal.startRequestedAt);
    else this.resizeHere(signal.key, signal.rows, signal.cols);
  }

  private wakeAttaches(containerId: string, starter: RequestPrincipal | undefined, startRequestedAt: string): void {
    const listeners = this.waitingForStart.get(containerId);
    this.waitingForStart.delete(containerId);
    for (const listener of listeners ?? []) listener(starter, startRequestedAt);
  }

  private async signal(signal: PayloadOf<typeof dockerSessionSignal>): Promise<void> {
    // Lost, only a session on another replica misses it (its client asks again or times out); this replica acted already.
    await this.bus.emit(dockerSessionSignal, signal).catch((error: unknown) => this.logger.warn({ err: error, signal: signal.kind }, 'docker session signal not sent'));
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

  /** Resizes the sessions of `key` (container or exec id) here and on every other replica. */
  async resize(key: string, rows: number, cols: number): Promise<void> {
    this.resizeHere(key, rows, cols);
    await this.signal({ kind: 'resize', origin: this.origin, key, rows, cols });
  }

  private resizeHere(key: string, rows: number, cols: number): void {
    for (const session of this.resizable.get(key) ?? []) session.resize(rows, cols);
  }

  /** `wait?condition=removed`: resolves with the exit code once the container is gone. */
  async waitRemoved(principal: RequestPrincipal, view: ContainerView): Promise<number> {
    if (view.spec.labels[DOCKER_AUTO_REMOVE_LABEL] !== 'true') return this.followUntilRemoved(principal, view);
    // Started through this replica: its own removal answers at once. Started through another one:
    // that replica removes it, and the record tells when.
    const stop = { stopped: false };
    const entry = this.removal(view.id);
    try {
      return await Promise.race([entry.promise, this.followUntilRemoved(principal, view, stop)]);
    } finally {
      stop.stopped = true;
      setTimeout(() => this.removals.get(view.id) === entry && this.removals.delete(view.id), 60_000).unref();
    }
  }

  /** The exit code once the container exited and its record is gone (polled; `stop` ends the polling). */
  private async followUntilRemoved(principal: RequestPrincipal, view: ContainerView, stop = { stopped: false }): Promise<number> {
    const { exitCode } = await this.containers.wait(principal, view.id, view.state === 'created' ? 'next-exit' : 'not-running');
    while (!stop.stopped) {
      try {
        await this.containers.get(principal, view.id);
      } catch (error) {
        if (error instanceof NotFoundError || (error instanceof MuelleError && error.code === 'NOT_FOUND')) return exitCode;
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, REMOVED_POLL_MS));
    }
    return exitCode;
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
      await Promise.race([Promise.allSettled(pending), new Promise((resolve) => setTimeout(resolve, OUTPUT_DRAIN_LIMIT_MS).unref())]);
      // `--rm` takes the container's anonymous volumes along, as dockerd's AutoRemove.
      await this.containers.remove(principal, id, true, true).catch((error) => {
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

/** Every api replica (outside the queue group) hears starts and resizes that reached another one. */
@Controller()
export class DockerSessionSignals {
  constructor(private readonly sessions: DockerSessions) {}

  @HandleEvent(dockerSessionSignal, { everyReplica: true })
  onSignal(signal: PayloadOf<typeof dockerSessionSignal>) {
    this.sessions.onSignal(signal);
  }
}
